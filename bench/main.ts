import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../provision/free-port.js';
import { MemoryMonitor, REPO_ROOT, spawnChild, waitHttpReady } from './children.js';
import { addFigure, authHeaders, type BenchContext } from './context.js';
import { BIG_INTEGRATION, INGEST_INTEGRATIONS, provisionIntegrations } from './dataset.js';
import { startEnvironment } from './environment.js';
import { parseOptions, type Phase } from './options.js';
import { runFreshness } from './phases/freshness.js';
import { runIngest } from './phases/ingest.js';
import { runPointReads } from './phases/point-reads.js';
import { prepareBigIntegration, runAnalytics, runLists, settleMerges } from './phases/queries.js';
import { runRebuild } from './phases/rebuild.js';
import { log } from './progress.js';
import { machine, renderTable, round, writeReport, type RunReport } from './results.js';
import { closeHttpAgent, httpGet, sleep } from './stats.js';

/**
 * `npm run bench [-- --quick]`: provisions the services, runs every
 * benchmark in order, writes bench-results/<timestamp>.json and latest.json,
 * and prints the table. Ingest always runs: it starts the projector that
 * projects the API keys and the sessions the later phases read. The big
 * integration is built when freshness, lists or analytics run. Rebuild runs
 * last: it stops the live projector (see phases/rebuild.ts).
 */
const options = parseOptions(process.argv.slice(2));

/**
 * @clickhouse/client removes its request's error listener before destroying a
 * request that timed out, so the late "socket hang up" of that request is an
 * uncaught exception; the statement itself has already failed (and is
 * reported) through its promise, so the run must go on rather than die.
 */
process.on('uncaughtException', (error: Error & { code?: string }) => {
  if (error.code === 'ECONNRESET') {
    log(`WARNING: ignored a late connection reset (${error.message})`);
    return;
  }
  log(`FATAL: ${error.stack ?? error.message}`);
  process.exit(1);
});
const startedAt = new Date();
const machineAtStart = machine();
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const wants = (phase: Phase): boolean => options.phases.includes(phase);
log(`mode ${options.mode}; phases ${options.phases.join(', ')}; sizes ${JSON.stringify(options.sizes)}${Object.keys(options.childEnv).length ? `; child env ${JSON.stringify(options.childEnv)}` : ''}`);

const env = await startEnvironment(options.childEnv);
const memory = new MemoryMonitor();
const ctx: BenchContext = {
  options,
  env,
  memory,
  keys: {},
  profileDir: options.profile ? resolve(REPO_ROOT, options.outDir, 'profiles', stamp) : undefined,
  figures: [],
  method: {},
  details: {},
};
const timings: Record<string, number> = {};
/** The 1-minute load average at the end of each phase: other work on the machine skews every figure, so it is on record. */
const loadByPhase: Record<string, number> = {};
/** Time spent in ClickHouse per statement kind, per phase (from the metering proxy). */
const clickhouseByPhase: Record<string, unknown> = {};
const timed = async (name: string, work: () => Promise<void>): Promise<void> => {
  await memory.enter(name);
  log(`— ${name} (load average ${loadavg()[0]?.toFixed(1)})`);
  const started = performance.now();
  await env.clickhouseMeter.take();
  try {
    await work();
  } finally {
    timings[name] = round((performance.now() - started) / 1000, 1);
    loadByPhase[name] = round(loadavg()[0] ?? 0, 1);
    // A dead engine must not hide the phase's own error behind the meter's.
    clickhouseByPhase[name] = Object.fromEntries(Object.entries(await env.clickhouseMeter.take().catch(() => ({}))).slice(0, 8));
  }
};

/** The API as a child; ready once it answers a keyed request (the projector has projected the key index). */
async function startApi(): Promise<void> {
  const port = await freePort();
  // BENCH_API_NODE_FLAGS adds V8/Node flags to the API only (NODE_OPTIONS refuses most V8 flags), to compare them when diagnosing.
  const extraFlags = (process.env.BENCH_API_NODE_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== '');
  const child = spawnChild(env, 'api', join(REPO_ROOT, 'services/api.ts'), { API_PORT: String(port), API_PUBLIC_URLS: `http://127.0.0.1:${port}` }, { profileDir: ctx.profileDir, service: 'api', nodeFlags: extraFlags });
  const url = `http://127.0.0.1:${port}`;
  ctx.api = { child, url };
  memory.watch('api', child);
  await waitHttpReady(child, `${url}/readyz`);
  for (const integrationId of [INGEST_INTEGRATIONS[0], BIG_INTEGRATION]) {
    const key = ctx.keys[integrationId] ?? '';
    for (let attempt = 0; (await httpGet(`${url}/v1/integration`, authHeaders(key))).status !== 200; attempt++) {
      if (attempt > 300) throw new Error(`the API never accepted the key of ${integrationId}`);
      await sleep(100);
    }
  }
}

function memoryFigures(): void {
  const peaks = memory.report();
  ctx.details.memory = peaks;
  ctx.method.memory =
    'Resident set size of each child process sampled every 200 ms from /proc/<pid>/status, plus the kernel high-water mark (VmHWM); ' +
    'the projector and API are separate processes without the ClickHouse engine (it runs in a process of its own, bench/clickhouse.child.ts, as a server would). ' +
    'Baselines: the raw-consumer child (Node + kafkajs, bundled as the services are) for the projector, the bare Koa child for the API.';
  const projector = peaks.projector;
  const api = peaks.api;
  if (projector) {
    addFigure(ctx, {
      bench: 'memory',
      metric: 'projector peak RSS',
      unit: 'MB',
      value: projector.peakMb,
      baseline: { label: 'raw consumer', value: peaks['raw-consumer']?.peakMb ?? Number.NaN },
      target: { on: 'value', op: '<=', limit: 300 },
      note: `by phase ${JSON.stringify(projector.byPhase)}; rebuild projector ${peaks['rebuild-projector']?.peakMb ?? '-'} MB`,
    });
  }
  if (api) {
    addFigure(ctx, {
      bench: 'memory',
      metric: 'API peak RSS',
      unit: 'MB',
      value: api.peakMb,
      baseline: { label: 'bare Koa', value: peaks['bare-koa']?.peakMb ?? Number.NaN },
      target: { on: 'value', op: '<=', limit: 200 },
      note: `by phase ${JSON.stringify(api.byPhase)}`,
    });
  }
}

let failure: unknown = null;
try {
  ctx.keys = await provisionIntegrations(env, [...INGEST_INTEGRATIONS, BIG_INTEGRATION]);
  await timed('ingest', () => runIngest(ctx));
  await startApi();
  // The big integration first: lists and analytics read it, and the freshness traffic goes into it.
  let big: Awaited<ReturnType<typeof prepareBigIntegration>> | undefined;
  if (wants('freshness') || wants('lists') || wants('analytics')) await timed('dataset', async () => void (big = await prepareBigIntegration(ctx)));
  if (wants('freshness')) await timed('freshness', () => runFreshness(ctx));
  if (wants('point')) await timed('point', () => runPointReads(ctx));
  if (big && (wants('lists') || wants('analytics'))) await timed('settle', () => settleMerges(ctx));
  if (big && wants('lists')) await timed('lists', () => runLists(ctx, big!));
  if (big && wants('analytics')) await timed('analytics', () => runAnalytics(ctx, big!));
  if (wants('rebuild')) await timed('rebuild', () => runRebuild(ctx));
  await memory.enter('end');
  memoryFigures();
} catch (error) {
  failure = error;
  log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  for (const child of [ctx.api?.child, ctx.projector]) if (child) log(`${child.name} log tail:\n${await child.logTail()}`);
} finally {
  memory.stop();
  for (const child of [ctx.api?.child, ctx.projector]) await child?.stop().catch(() => undefined);
  closeHttpAgent();
  await env.stop();
}

const report: RunReport = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  mode: options.mode,
  sizes: options.sizes,
  phases: options.phases,
  childEnv: options.childEnv,
  machine: machineAtStart,
  method: ctx.method,
  figures: ctx.figures,
  timings,
  details: { ...ctx.details, loadAverageByPhase: loadByPhase, clickhouseByPhase, ...(failure ? { failure: String(failure) } : {}), ...(ctx.profileDir ? { profiles: ctx.profileDir } : {}) },
};
const file = await writeReport(resolve(REPO_ROOT, options.outDir), report);
process.stdout.write(`${renderTable(report)}\n\nresults: ${file}\n`);
const missed = ctx.figures.filter((f) => f.held === false);
process.exit(failure ? 1 : options.strict && missed.length > 0 ? 2 : 0);
