import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compareRuns, loadRunSet, mannWhitneyP, renderComparison, type RunSet } from '../../bench/comparison.js';
import { figure, type FigureInput, type RunReport } from '../../bench/results.js';

const MACHINE: RunReport['machine'] = { cpus: 2, cpuModel: 'AMD EPYC', cpuFamily: 25, cpuModelNumber: 17, memoryGb: 23.5, node: 'v20.20.2', platform: 'linux-x64', loadAverageAtStart: 1 };

let stamp = 0;
function run(figures: readonly FigureInput[], overrides: Partial<RunReport> = {}): RunReport {
  stamp += 1;
  return {
    startedAt: new Date(Date.UTC(2026, 11, 7, 0, stamp)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 11, 7, 0, stamp, 30)).toISOString(),
    mode: 'full',
    sizes: { ingestEvents: 300_000 } as RunReport['sizes'],
    phases: ['ingest'],
    childEnv: {},
    machine: MACHINE,
    method: {},
    figures: figures.map(figure),
    timings: {},
    details: {},
    ...overrides,
  };
}

const ingest = (value: number, raw = 100_000): FigureInput => ({
  bench: 'ingest',
  metric: 'projector throughput',
  unit: 'events/s',
  value,
  baseline: { label: 'raw consumer', value: raw },
  target: { on: 'ratio', op: '>=', limit: 0.6 },
});
const latency = (value: number): FigureInput => ({ bench: 'list', metric: 'first page p95', unit: 'ms', value, baseline: { label: 'direct', value: 20 }, target: { on: 'value', op: '<=', limit: 50 } });
const set = (label: string, runs: RunReport[]): RunSet => ({ label, runs });
const only = (sets: readonly [RunSet, RunSet], metric: string) => compareRuns(...sets).figures.find((f) => f.metric === metric);

describe('the Mann–Whitney p-value', () => {
  it('is exact for complete separation: 2 / C(2n, n)', () => {
    expect(mannWhitneyP([1, 2, 3, 4], [5, 6, 7, 8])).toBeCloseTo(2 / 70, 12);
    expect(mannWhitneyP([5, 6, 7, 8], [1, 2, 3, 4])).toBeCloseTo(2 / 70, 12);
    expect(mannWhitneyP([1, 2, 3], [4, 5, 6])).toBeCloseTo(0.1, 12);
  });

  it('counts one pair out of order as U = 1 (five runs a side: 4 of the 252 orderings are that extreme)', () => {
    expect(mannWhitneyP([1, 2, 3, 4, 6], [5, 7, 8, 9, 10])).toBeCloseTo(4 / 252, 12);
  });

  it('is 1 for samples that do not differ at all, ties included', () => {
    expect(mannWhitneyP([1, 2, 3, 4], [1, 2, 3, 4])).toBe(1);
    expect(mannWhitneyP([5, 5, 5], [5, 5, 5])).toBe(1);
  });
});

describe('comparing benchmark runs', () => {
  it('calls a throughput gain better when four runs a side separate, with the change of the medians', () => {
    const before = set('before', [101, 100, 103, 102].map((v) => run([ingest(v * 100)])));
    const after = set('after', [112, 110, 111, 113].map((v) => run([ingest(v * 100)])));
    const f = only([before, after], 'projector throughput');
    expect(f).toMatchObject({ verdict: 'better', higherIsBetter: true, before: { runs: 4, median: 10_150, min: 10_000, max: 10_300, held: 0 }, after: { median: 11_150 } });
    expect(f?.valueChange).toBeCloseTo(11_150 / 10_150 - 1, 12);
    expect(f?.p).toBeCloseTo(2 / 70, 12);
  });

  it('calls a latency that grew worse, since lower is better in ms', () => {
    const f = only([set('b', [20, 21, 22, 23].map((v) => run([latency(v)]))), set('a', [30, 31, 32, 33].map((v) => run([latency(v)])))], 'first page p95');
    expect(f).toMatchObject({ verdict: 'worse', higherIsBetter: false });
  });

  it('calls interleaved runs noise, and too few runs no verdict at all, however far apart', () => {
    const noisy = only([set('b', [10, 12, 14, 16].map((v) => run([latency(v)]))), set('a', [11, 13, 15, 17].map((v) => run([latency(v)])))], 'first page p95');
    expect(noisy?.verdict).toBe('within noise');
    expect(noisy?.p).toBeGreaterThan(0.05);
    const few = only([set('b', [10, 11, 12].map((v) => run([latency(v)]))), set('a', [40, 41, 42].map((v) => run([latency(v)])))], 'first page p95');
    expect(few?.verdict).toBe('too few runs');
    expect(few?.p).toBeUndefined();
  });

  it('keeps figures found on one side only, and takes the ratio from the runs that measured their baseline', () => {
    const before = set('b', [run([ingest(9_000)])]);
    const after = set('a', [run([latency(25), ingest(9_000, Number.NaN)]), run([ingest(9_000, 90_000)])]);
    const comparison = compareRuns(before, after);
    expect(comparison.figures.map((f) => [f.metric, f.verdict])).toEqual([
      ['projector throughput', 'too few runs'],
      ['first page p95', 'only after'],
    ]);
    expect(comparison.figures[0]?.after?.ratio).toBeCloseTo(0.1, 12);
    expect(comparison.figures[0]?.ratioChange).toBeCloseTo(0.1 / 0.09 - 1, 12);
  });

  it('warns when the runs come from different machines, sizes or settings, and not for a result older than the CPU numbers', () => {
    const slow = { ...MACHINE, cpuModelNumber: 1 };
    const warnings = compareRuns(set('b', [run([ingest(1)])]), set('a', [run([ingest(1)], { machine: slow, mode: 'quick', childEnv: { BATCH_MAX_ROWS: '2000' } })])).warnings;
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toContain('family 25 model 1,');
    expect(warnings[0]).toContain('compare the ratios');
    expect(warnings[1]).toContain('different sizes');
    expect(warnings[2]).toContain('BATCH_MAX_ROWS');
    const older = { ...MACHINE, cpuFamily: undefined, cpuModelNumber: undefined };
    expect(compareRuns(set('b', [run([ingest(1)], { machine: older })]), set('a', [run([ingest(1)])])).warnings).toEqual([]);
  });

  it('prints each figure with both medians, the change, the targets held and the verdict', () => {
    const before = set('base', [100, 101, 102, 103].map((v) => run([latency(v / 4)])));
    const after = set('head', [80, 81, 82, 83].map((v) => run([latency(v / 4)])));
    const text = renderComparison(before, after, compareRuns(before, after));
    expect(text).toContain('base: 4 run(s)');
    const row = text.split('\n').find((line) => line.startsWith('list'));
    expect(row).toMatch(/25\.4 \(25\.0–25\.8\) ms\s+20\.4 \(20\.0–20\.8\) ms\s+-20%\s+1\.27× → 1\.02× \(-20%\)\s+4\/4 → 4\/4\s+better\s+0\.029/);
  });
});

describe('reading the sides', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads every result of a directory but latest.json, which repeats one of them', () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
    const runs = [run([ingest(1)]), run([ingest(2)])];
    runs.forEach((r, i) => writeFileSync(join(dir!, `run-${i}.json`), JSON.stringify(r)));
    writeFileSync(join(dir, 'latest.json'), JSON.stringify(runs[1]));
    expect(loadRunSet(dir).runs.map((r) => r.figures[0]?.value)).toEqual([1, 2]);
    expect(loadRunSet(join(dir, 'latest.json')).runs).toHaveLength(1);
  });

  it('refuses a file that is not a benchmark result, naming it', () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ figures: 'none' }));
    writeFileSync(join(dir, 'broken.json'), '{');
    expect(() => loadRunSet(join(dir!, 'other.json'))).toThrow(/other\.json is not a benchmark result/);
    expect(() => loadRunSet(join(dir!, 'broken.json'))).toThrow(/broken\.json is not readable as JSON/);
  });
});
