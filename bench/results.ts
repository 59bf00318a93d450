import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from './options.js';

/**
 * One measured figure, always next to a baseline measured in the same run:
 * an absolute number means little on an unknown machine, the ratio to what
 * the same machine does without our code in the way means more.
 */
export interface Figure {
  bench: string;
  metric: string;
  unit: string;
  value: number;
  baseline: { label: string; value: number };
  /** value / baseline. */
  ratio: number;
  /** A target on the value or on the ratio, when the issue sets one. */
  target?: { on: 'value' | 'ratio'; op: '<=' | '>='; limit: number };
  held?: boolean;
  note?: string;
}

export type FigureInput = Omit<Figure, 'ratio' | 'held'>;

export function figure(input: FigureInput): Figure {
  const ratio = input.baseline.value === 0 ? Number.POSITIVE_INFINITY : input.value / input.baseline.value;
  const out: Figure = { ...input, ratio: round(ratio, 3) };
  if (input.target) {
    const subject = input.target.on === 'value' ? input.value : ratio;
    out.held = input.target.op === '<=' ? subject <= input.target.limit : subject >= input.target.limit;
  }
  return out;
}

export const round = (value: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

export interface RunReport {
  startedAt: string;
  finishedAt: string;
  mode: BenchOptions['mode'];
  sizes: BenchOptions['sizes'];
  phases: readonly string[];
  childEnv: Record<string, string>;
  machine: {
    cpus: number;
    cpuModel: string;
    /**
     * The processor's family and model numbers (Linux only): machines of ours all name their CPU "AMD EPYC",
     * while family 25 model 1 runs the benchmarks at about half the speed of family 25 model 17.
     */
    cpuFamily?: number;
    cpuModelNumber?: number;
    memoryGb: number;
    node: string;
    platform: string;
    loadAverageAtStart: number;
  };
  /** How the figures were obtained, per benchmark: the honest fine print. */
  method: Record<string, string>;
  figures: Figure[];
  /** Wall time of each phase, seconds. */
  timings: Record<string, number>;
  /** Anything else worth keeping (dataset shapes, achieved rates, lag). */
  details: Record<string, unknown>;
}

/** The first processor's family and model numbers from /proc/cpuinfo; nothing where there is none. */
function cpuIdentity(): Pick<RunReport['machine'], 'cpuFamily' | 'cpuModelNumber'> {
  let text: string;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return {};
  }
  const field = (name: string): number | undefined => {
    const match = new RegExp(`^${name}\\s*:\\s*(\\d+)$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };
  const family = field('cpu family');
  const model = field('model');
  return { ...(family === undefined ? {} : { cpuFamily: family }), ...(model === undefined ? {} : { cpuModelNumber: model }) };
}

export function machine(): RunReport['machine'] {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    ...cpuIdentity(),
    memoryGb: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverageAtStart: round(loadavg()[0] ?? 0, 1),
  };
}

/** bench-results/<timestamp>.json and bench-results/latest.json (the directory is gitignored). */
export async function writeReport(outDir: string, report: RunReport): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const file = join(outDir, `${stamp}.json`);
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(file, text);
  await writeFile(join(outDir, 'latest.json'), text);
  return file;
}

/** The machine in a few words: what tells two of our machines apart, and the Node that ran on it. */
export function describeMachine(m: RunReport['machine']): string {
  const id = m.cpuFamily === undefined ? '' : ` family ${m.cpuFamily} model ${m.cpuModelNumber ?? '?'}`;
  return `${m.cpus} cpus, ${m.cpuModel}${id}, Node ${m.node}`;
}

export const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
};

function targetText(f: Figure): string {
  if (!f.target) return '';
  const subject = f.target.on === 'ratio' ? '×' : ` ${f.unit}`;
  const mark = f.held ? 'held' : 'MISSED';
  return `${f.target.op} ${fmt(f.target.limit)}${subject}  ${mark}`;
}

/** Columns padded to their widest cell, the header underlined: the shape of every table the benchmarks print. */
export function alignedTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** The short human table for stdout. */
export function renderTable(report: RunReport): string {
  const header = ['benchmark', 'metric', 'value', 'baseline', 'ratio', 'target'];
  // A selection of phases (--only) can leave a baseline unmeasured: the API's memory without the point reads' bare Koa.
  const rows = report.figures.map((f) => [
    f.bench,
    f.metric,
    `${fmt(f.value)} ${f.unit}`,
    Number.isNaN(f.baseline.value) ? `not run (${f.baseline.label})` : `${fmt(f.baseline.value)} ${f.unit} (${f.baseline.label})`,
    Number.isNaN(f.ratio) ? '-' : `${fmt(f.ratio)}×`,
    targetText(f),
  ]);
  const held = report.figures.filter((f) => f.held === true).length;
  const targets = report.figures.filter((f) => f.target).length;
  const timings = Object.entries(report.timings).map(([k, v]) => `${k} ${v}s`).join(', ');
  const load = report.details.loadAverageByPhase as Record<string, number> | undefined;
  const loads = load ? Object.entries(load).map(([k, v]) => `${k} ${v}`).join(', ') : '';
  return [
    `Not AI read model benchmarks (${report.mode}; ${describeMachine(report.machine)})`,
    ...alignedTable(header, rows),
    '',
    `targets held: ${held}/${targets}    phases: ${timings}`,
    `1-min load average at start ${report.machine.loadAverageAtStart}; after each phase: ${loads} (above ${report.machine.cpus}, other work shared the CPUs)`,
  ].join('\n');
}
