import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { alignedTable, describeMachine, fmt, type Figure, type RunReport } from './results.js';

/**
 * Two sets of benchmark runs side by side: before and after a change, or one
 * machine and another. Each side is one or more runs; a figure's runs give a
 * median and a spread (lowest to highest). A change is called better or worse
 * only when a rank test says runs of one code would rarely sit that far apart
 * (Mann–Whitney, p < 0.05), which takes four runs a side, taken in turns on
 * the same machine: on machines this noisy, a run or two a side cannot tell a
 * change from a bad minute (in two quick runs a side of identical code, the
 * spreads of two figures out of three did not overlap).
 */
export interface RunSet {
  label: string;
  runs: readonly RunReport[];
}

export interface Spread {
  runs: number;
  median: number;
  min: number;
  max: number;
  /** Median of value / same-run baseline: what still compares across machines. */
  ratio: number;
  /** Runs that held the figure's target, when it has one. */
  held?: number;
}

export type Verdict = 'better' | 'worse' | 'within noise' | 'too few runs' | 'only before' | 'only after';

export interface ComparedFigure {
  bench: string;
  metric: string;
  unit: string;
  higherIsBetter: boolean;
  before?: Spread;
  after?: Spread;
  /** after / before − 1 of the medians, for the value and for the ratio to the baseline. */
  valueChange?: number;
  ratioChange?: number;
  verdict: Verdict;
  /** The Mann–Whitney p-value of the values, when the runs are enough to reach SIGNIFICANCE. */
  p?: number;
}

export interface Comparison {
  figures: ComparedFigure[];
  /** What makes the two sides' values hard to compare: different machines, sizes or settings. */
  warnings: string[];
}

/** Throughput (events/s, req/s) is better higher; latency and memory better lower. */
export const higherIsBetter = (unit: string): boolean => unit.endsWith('/s');

/** The midpoint of the middle two for an even count: percentile()'s nearest rank would take the lower one, biasing four runs low. */
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function spread(figures: readonly Figure[]): Spread {
  const values = figures.map((f) => f.value);
  const withTarget = figures.filter((f) => f.held !== undefined);
  // A baseline a selection of phases did not run (--only) leaves its ratio NaN; the value still compares.
  const ratios = figures.map((f) => f.ratio).filter(Number.isFinite);
  return {
    runs: figures.length,
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    ratio: ratios.length > 0 ? median(ratios) : Number.NaN,
    ...(withTarget.length > 0 ? { held: withTarget.filter((f) => f.held).length } : {}),
  };
}

/**
 * How many ways the Mann–Whitney U statistic of samples of sizes m and n takes
 * each value 0..m·n when both come from one distribution (no ties): the
 * exact null distribution, by the recurrence on whether the largest of all
 * the values belongs to the first sample.
 */
function uCounts(m: number, n: number): number[] {
  // ways[i][j][u]: samples of sizes i and j, U = u.
  const ways: number[][][] = [];
  for (let i = 0; i <= m; i++) {
    ways[i] = [];
    for (let j = 0; j <= n; j++) {
      const counts = new Array<number>(i * j + 1).fill(0);
      if (i === 0 || j === 0) counts[0] = 1;
      else {
        const withoutLargestOfFirst = ways[i - 1]![j]!;
        const withoutLargestOfSecond = ways[i]![j - 1]!;
        // The largest value in the first sample beats all j of the second.
        withoutLargestOfFirst.forEach((w, u) => (counts[u + j]! += w));
        withoutLargestOfSecond.forEach((w, u) => (counts[u]! += w));
      }
      ways[i]![j] = counts;
    }
  }
  return ways[m]![n]!;
}

/**
 * Two-sided p-value of the Mann–Whitney U test (ties count a half): how often
 * two samples of one distribution would be at least this far apart. Exact,
 * which matters at the few runs a side a benchmark affords: with four runs a
 * side the smallest p is 2/70, when one side beats the other in every pair.
 */
export function mannWhitneyP(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  const counts = uCounts(a.length, b.length);
  const total = counts.reduce((sum, c) => sum + c, 0);
  let below = 0;
  let above = 0;
  counts.forEach((c, value) => {
    if (value <= u) below += c;
    if (value >= u) above += c;
  });
  return Math.min(1, (2 * Math.min(below, above)) / total);
}

/** The smallest p-value samples of these sizes can reach: complete separation. */
const smallestP = (m: number, n: number): number => mannWhitneyP(new Array<number>(m).fill(1), new Array<number>(n).fill(0));

/** Below this a change is called; above it, noise. */
export const SIGNIFICANCE = 0.05;

function verdictOf(before: readonly number[], after: readonly number[], higher: boolean): { verdict: Verdict; p?: number } {
  if (smallestP(before.length, after.length) >= SIGNIFICANCE) return { verdict: 'too few runs' };
  const p = mannWhitneyP(after, before);
  if (p >= SIGNIFICANCE) return { verdict: 'within noise', p };
  const afterHigher = median(after) > median(before);
  return { verdict: afterHigher === higher ? 'better' : 'worse', p };
}

const figureKey = (f: Pick<Figure, 'bench' | 'metric'>): string => `${f.bench}\u0000${f.metric}`;

/** Figures by bench and metric, in the order they first appear in the runs. */
function figuresByKey(runs: readonly RunReport[]): Map<string, Figure[]> {
  const byKey = new Map<string, Figure[]>();
  for (const run of runs) {
    for (const f of run.figures) {
      const list = byKey.get(figureKey(f)) ?? [];
      list.push(f);
      byKey.set(figureKey(f), list);
    }
  }
  return byKey;
}

/** The differences between the runs that bear on comparing their values. */
function warningsFor(before: RunSet, after: RunSet): string[] {
  const all = [...before.runs, ...after.runs];
  const distinct = (describe: (run: RunReport) => string): string[] => [...new Set(all.map(describe))];
  const warnings: string[] = [];
  // Results written before the CPU's family and model were recorded compare by what they have.
  const identified = all.every((r) => r.machine.cpuFamily !== undefined);
  const machines = distinct((r) => describeMachine(identified ? r.machine : { ...r.machine, cpuFamily: undefined, cpuModelNumber: undefined }));
  if (machines.length > 1) warnings.push(`the runs come from different machines (${machines.join('; ')}): compare the ratios to the baselines, not the values`);
  const sizes = distinct((r) => `${r.mode} ${JSON.stringify(r.sizes)}`);
  if (sizes.length > 1) warnings.push(`the runs measured different sizes (${sizes.join('; ')})`);
  const envs = distinct((r) => JSON.stringify(r.childEnv));
  if (envs.length > 1) warnings.push(`the runs gave their children different settings (${envs.join('; ')})`);
  return warnings;
}

export function compareRuns(before: RunSet, after: RunSet): Comparison {
  const b = figuresByKey(before.runs);
  const a = figuresByKey(after.runs);
  const keys = [...new Set([...b.keys(), ...a.keys()])];
  const figures = keys.map((key): ComparedFigure => {
    const beforeFigures = b.get(key);
    const afterFigures = a.get(key);
    const sample = (beforeFigures ?? afterFigures)![0]!;
    const higher = higherIsBetter(sample.unit);
    const base = { bench: sample.bench, metric: sample.metric, unit: sample.unit, higherIsBetter: higher };
    if (!beforeFigures) return { ...base, after: spread(afterFigures!), verdict: 'only after' };
    if (!afterFigures) return { ...base, before: spread(beforeFigures), verdict: 'only before' };
    const s = { before: spread(beforeFigures), after: spread(afterFigures) };
    return {
      ...base,
      ...s,
      valueChange: s.after.median / s.before.median - 1,
      ratioChange: s.after.ratio / s.before.ratio - 1,
      ...verdictOf(beforeFigures.map((f) => f.value), afterFigures.map((f) => f.value), higher),
    };
  });
  return { figures, warnings: warningsFor(before, after) };
}

const percent = (change: number | undefined): string => {
  if (change === undefined || !Number.isFinite(change)) return '-';
  const text = `${(change * 100).toFixed(Math.abs(change) < 0.1 ? 1 : 0)}%`;
  return change > 0 ? `+${text}` : text;
};

function spreadText(s: Spread | undefined, unit: string): string {
  if (!s) return '-';
  const range = s.runs > 1 ? ` (${fmt(s.min)}–${fmt(s.max)})` : '';
  return `${fmt(s.median)}${range} ${unit}`;
}

const ratioText = (s: Spread | undefined): string => (s && Number.isFinite(s.ratio) ? `${fmt(s.ratio)}×` : '-');

function heldText(s: Spread | undefined): string {
  return s?.held === undefined ? '' : `${s.held}/${s.runs}`;
}

export function renderComparison(before: RunSet, after: RunSet, comparison: Comparison): string {
  const header = ['benchmark', 'metric', `before (${before.label})`, `after (${after.label})`, 'change', 'ratio to baseline', 'targets held', 'verdict', 'p'];
  const rows = comparison.figures.map((f) => {
    const held = f.before?.held !== undefined || f.after?.held !== undefined ? `${heldText(f.before) || '-'} → ${heldText(f.after) || '-'}` : '';
    return [
      f.bench,
      f.metric,
      spreadText(f.before, f.unit),
      spreadText(f.after, f.unit),
      percent(f.valueChange),
      `${ratioText(f.before)} → ${ratioText(f.after)} (${percent(f.ratioChange)})`,
      held,
      f.verdict,
      f.p === undefined ? '' : f.p.toFixed(3),
    ];
  });
  const side = (set: RunSet): string => `${set.label}: ${set.runs.length} run(s) from ${set.runs.map((r) => r.startedAt).join(', ')}`;
  return [
    side(before),
    side(after),
    `values are medians (lowest–highest); a verdict needs runs enough for a rank test of the values (Mann–Whitney) to reach p < ${SIGNIFICANCE}: four a side`,
    ...comparison.warnings.map((w) => `WARNING: ${w}`),
    '',
    ...alignedTable(header, rows),
  ].join('\n');
}

function isRunReport(value: unknown): value is RunReport {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<RunReport>;
  return Array.isArray(v.figures) && typeof v.machine === 'object' && v.machine !== null && typeof v.startedAt === 'string';
}

function readRun(file: string): RunReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file} is not readable as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isRunReport(parsed)) throw new Error(`${file} is not a benchmark result (no figures, machine or startedAt)`);
  return parsed;
}

/**
 * A side of the comparison: one result file, or a directory of them (what a
 * run's --out names). latest.json repeats one of a directory's runs, so it is
 * read only when it is named.
 */
export function loadRunSet(path: string): RunSet {
  if (!statSync(path).isDirectory()) return { label: path, runs: [readRun(path)] };
  const files = readdirSync(path)
    .filter((name) => name.endsWith('.json') && name !== 'latest.json')
    .sort();
  if (files.length === 0) throw new Error(`${path} holds no benchmark results (<timestamp>.json)`);
  return { label: path, runs: files.map((name) => readRun(join(path, name))) };
}
