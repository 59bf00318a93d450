import { parseArgs } from 'node:util';

/**
 * What one run measures and how big. `--quick` is the tiny size the test suite
 * runs so the harness never rots; the default is the size the issue names.
 * Every size can be overridden by its own flag.
 */
export const PHASES = ['ingest', 'freshness', 'point', 'lists', 'analytics', 'rebuild'] as const;
export type Phase = (typeof PHASES)[number];

export interface Sizes {
  /** Events pre-loaded into Kafka for the ingest and raw-consumer runs (the rebuild replays them too). */
  ingestEvents: number;
  /** Sustained produce rate (events/s) and duration of the freshness run. */
  freshnessRate: number;
  freshnessSeconds: number;
  /** Projector workers of the last freshness pass: compose deploys two. 1 skips that pass. */
  freshnessWorkers: number;
  /** Fixed request rate and durations of the point-read runs. */
  pointRate: number;
  pointSeconds: number;
  pointMaxSeconds: number;
  /** Sessions of the one big integration the list benchmark pages through. */
  listSessions: number;
  /** Events of that integration (session_events rows, about eight timeline entries each), aggregated by the materialized view. */
  analyticsEvents: number;
  /** Timed requests per query shape (lists, analytics), after a warm-up. */
  queryRuns: number;
  /** Events the rebuild replays: the topic as the other phases leave it, topped up to this many. */
  rebuildEvents: number;
}

export interface BenchOptions {
  mode: 'quick' | 'full';
  sizes: Sizes;
  phases: readonly Phase[];
  seed: number;
  /** Children run with --cpu-prof; profiles land next to the results. */
  profile: boolean;
  outDir: string;
  /** Exit non-zero when a target is missed (off by default: the quick size cannot meet full-size targets). */
  strict: boolean;
  /** Extra environment for the child processes (--env BATCH_MAX_ROWS=2000), to compare configurations. */
  childEnv: Record<string, string>;
}

const QUICK: Sizes = {
  ingestEvents: 20_000,
  freshnessRate: 1_000,
  freshnessSeconds: 6,
  freshnessWorkers: 2,
  pointRate: 1_000,
  pointSeconds: 4,
  pointMaxSeconds: 3,
  listSessions: 20_000,
  analyticsEvents: 50_000,
  queryRuns: 30,
  rebuildEvents: 50_000,
};

const FULL: Sizes = {
  ingestEvents: 300_000,
  freshnessRate: 5_000,
  freshnessSeconds: 60,
  freshnessWorkers: 2,
  pointRate: 1_000,
  pointSeconds: 30,
  pointMaxSeconds: 15,
  listSessions: 1_000_000,
  analyticsEvents: 10_000_000,
  queryRuns: 200,
  rebuildEvents: 10_000_000,
};

const SIZE_FLAGS: Readonly<Record<string, keyof Sizes>> = {
  'ingest-events': 'ingestEvents',
  'freshness-rate': 'freshnessRate',
  'freshness-seconds': 'freshnessSeconds',
  'freshness-workers': 'freshnessWorkers',
  'point-rate': 'pointRate',
  'point-seconds': 'pointSeconds',
  'point-max-seconds': 'pointMaxSeconds',
  'list-sessions': 'listSessions',
  'analytics-events': 'analyticsEvents',
  'query-runs': 'queryRuns',
  'rebuild-events': 'rebuildEvents',
};

export const USAGE = `usage: npm run bench -- [--quick] [--only ${PHASES.join(',')}] [--profile] [--strict] [--env KEY=VALUE ...]
       [--seed N] [--out DIR] ${Object.keys(SIZE_FLAGS).map((f) => `[--${f} N]`).join(' ')}
Sizes accept 20k / 1m / 10_000_000.`;

/** `20k`, `1.5m`, `10_000_000` → a positive integer. */
export function parseCount(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(text.replaceAll('_', ''));
  const scale = { '': 1, k: 1_000, m: 1_000_000 }[(match?.[2] ?? '').toLowerCase()] ?? 1;
  const value = match ? Math.round(Number(match[1]) * scale) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${flag} wants a positive number, got "${text}"\n${USAGE}`);
  return value;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const sizeOptions = Object.fromEntries(Object.keys(SIZE_FLAGS).map((f) => [f, { type: 'string' as const }]));
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      seed: { type: 'string', default: '20261102' },
      out: { type: 'string', default: 'bench-results' },
      help: { type: 'boolean', default: false },
      env: { type: 'string', multiple: true, default: [] },
      ...sizeOptions,
    },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const mode = values.quick === true ? 'quick' : 'full';
  const sizes: Sizes = { ...(mode === 'quick' ? QUICK : FULL) };
  for (const [flag, key] of Object.entries(SIZE_FLAGS)) {
    const raw = (values as Record<string, unknown>)[flag];
    if (typeof raw === 'string') sizes[key] = parseCount(raw, flag);
  }
  const only = typeof values.only === 'string' ? values.only.split(',').map((s) => s.trim()) : [...PHASES];
  const unknown = only.filter((p) => !(PHASES as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`unknown phase(s) ${unknown.join(', ')}\n${USAGE}`);
  const childEnv: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--env wants KEY=VALUE, got "${pair}"\n${USAGE}`);
    childEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return {
    mode,
    sizes,
    childEnv,
    phases: PHASES.filter((p) => only.includes(p)),
    seed: Number(values.seed),
    profile: values.profile === true,
    outDir: String(values.out),
    strict: values.strict === true,
  };
}
