import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import type { LoadResult } from '../load.child.js';
import { freePort } from '../../provision/free-port.js';
import { REPO_ROOT, spawnChild, waitHttpReady } from '../children.js';
import { addFigure, authHeaders, type BenchContext } from '../context.js';
import { describeCpu, measureCpu, type CpuShare } from '../cpu.js';
import { INGEST_INTEGRATIONS } from '../dataset.js';
import { log, task } from '../progress.js';
import { round } from '../results.js';
import { httpGet, readMetrics } from '../stats.js';

/** Keep-alive sockets the paced run may open: enough that a stall of 30 ms at 1,000 req/s never waits for a socket. */
const FIXED_CONNECTIONS = 32;
const MAX_CONNECTIONS = 32;

/** What the server's own process saw during a run, from its Prometheus metrics (prom-client's defaults). */
interface ServerSide {
  /** Event-loop delay over the run: prom-client resets its histogram on each scrape, so the scrape before starts it afresh. */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** Garbage-collection pauses during the run, by kind: count and total ms. */
  gc: Record<string, { count: number; totalMs: number; meanMs: number }>;
}

type Metrics = Awaited<ReturnType<typeof readMetrics>>;
/** The kinds prom-client labels nodejs_gc_duration_seconds with. */
const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'] as const;

function serverSide(before: Metrics, after: Metrics): ServerSide {
  const gc: ServerSide['gc'] = {};
  const delta = (name: string, label: string): number => (after.sum(name, label) ?? 0) - (before.sum(name, label) ?? 0);
  for (const kind of GC_KINDS) {
    const label = `kind="${kind}"`;
    const n = delta('nodejs_gc_duration_seconds_count', label);
    const sum = delta('nodejs_gc_duration_seconds_sum', label);
    if (n > 0) gc[kind] = { count: n, totalMs: round(sum * 1000, 1), meanMs: round((sum * 1000) / n, 2) };
  }
  return {
    eventLoopDelayP99Ms: round((after.sum('nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000, 1),
    eventLoopDelayMaxMs: round((after.sum('nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000, 1),
    gc,
  };
}

interface Run {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  max: number;
  maxScheduleLagMs?: number;
  cpu: CpuShare;
  server?: ServerSide;
}

/**
 * One load run against `base`, in a child process of its own (see
 * bench/load.child.ts): open loop at a rate, latencies from each request's due
 * time; autocannon closed loop when flat out.
 */
async function cannon(
  ctx: BenchContext,
  label: string,
  base: string,
  ids: readonly string[],
  headers: Record<string, string>,
  seconds: number,
  rate: number | undefined,
  pids: Record<string, number | undefined>,
  scrapeMetrics = false,
): Promise<Run> {
  const { env } = ctx;
  const slug = label.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const specPath = join(env.dir, `load-${slug}.json`);
  const resultPath = join(env.dir, `load-${slug}.result.json`);
  const spec = { url: base, ids, headers, seconds, connections: rate === undefined ? MAX_CONNECTIONS : FIXED_CONNECTIONS, ...(rate === undefined ? {} : { rate }) };
  await writeFile(specPath, JSON.stringify(spec));
  const metricsBefore = scrapeMetrics ? await readMetrics(`${base}/metrics`) : null;
  const progress = task(label, seconds, 's');
  const load = spawnChild(env, `load-${slug}`, join(REPO_ROOT, 'bench/load.child.ts'), { BENCH_LOAD: specPath, BENCH_LOAD_RESULT: resultPath });
  const cpu = await measureCpu(pids);
  const started = performance.now();
  const ticker = setInterval(() => progress.update(Math.min(seconds, Math.round((performance.now() - started) / 1000))), 1000);
  const exit = await load.proc.exited.finally(() => clearInterval(ticker));
  const share = await cpu();
  const server = metricsBefore ? serverSide(metricsBefore, await readMetrics(`${base}/metrics`)) : undefined;
  if (exit.code !== 0) throw new Error(`${label}: the load generator exited (code ${exit.code}, signal ${exit.signal}):\n${await load.logTail()}`);
  const result = JSON.parse(await readFile(resultPath, 'utf8')) as LoadResult;
  const out: Run = {
    reqPerSec: round(result.total / result.duration, 0),
    p50: result.p50,
    p99: result.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    max: result.max,
    ...(result.maxScheduleLagMs === undefined ? {} : { maxScheduleLagMs: result.maxScheduleLagMs }),
    cpu: { ...share, load: { cpuSeconds: round(result.cpuSeconds, 1), coresBusy: round(result.cpuSeconds / result.duration, 2) } },
    ...(server ? { server } : {}),
  };
  const serverNote = server ? `; server event-loop delay p99 ${server.eventLoopDelayP99Ms} ms, max ${server.eventLoopDelayMaxMs} ms, GC ${JSON.stringify(server.gc)}` : '';
  progress.done(`${out.reqPerSec} req/s, p50 ${out.p50} ms, p99 ${out.p99} ms${out.non2xx ? `, ${out.non2xx} non-2xx` : ''}; cores busy: ${describeCpu(out.cpu)}${serverNote}`);
  if (out.non2xx > 0 || out.errors > 0) log(`WARNING: ${label}: ${out.non2xx} non-2xx answers, ${out.errors} errors`);
  return out;
}

/**
 * GET /v1/sessions/{id} through the whole API (auth, rate limit, usage
 * metering, Redis read) vs a bare Koa endpoint serving a same-shaped document,
 * both child processes, autocannon in a third on loopback: first at a
 * fixed rate (the latency target), then flat out (the throughput ratio).
 */
export async function runPointReads(ctx: BenchContext): Promise<void> {
  const { env, options } = ctx;
  const api = ctx.api;
  const integrationId = INGEST_INTEGRATIONS[0];
  const key = ctx.keys[integrationId];
  const ids = ctx.preloaded?.sessionIds ?? [];
  if (!api || !key || ids.length === 0) throw new Error('point reads need the API, a key and preloaded sessions');
  const sample = await httpGet(`${api.url}/v1/sessions/${ids[0]}`, authHeaders(key));
  if (sample.status !== 200) throw new Error(`GET /v1/sessions/${ids[0]} answered ${sample.status}: ${sample.body.slice(0, 300)}`);

  const port = await freePort();
  const bare = spawnChild(env, 'bare-koa', join(REPO_ROOT, 'bench/bare-koa.child.ts'), { BENCH_PORT: String(port) }, { profileDir: ctx.profileDir, environmentOf: 'api' });
  const bareUrl = `http://127.0.0.1:${port}`;
  await waitHttpReady(bare, `${bareUrl}/health`);
  ctx.memory.watch('bare-koa', bare);
  const headers = authHeaders(key);
  const { pointRate: rate, pointSeconds, pointMaxSeconds } = options.sizes;
  const apiPids = { api: api.child.pid, ...env.servicePids() };
  const barePids = { 'bare-koa': bare.pid, harness: process.pid };
  try {
    // The API's first requests warm the key cache and JIT; neither run should pay for that.
    await cannon(ctx, 'warm-up', api.url, ids, headers, 2, undefined, apiPids);
    const apiFixed = await cannon(ctx, `API @ ${rate} req/s`, api.url, ids, headers, pointSeconds, rate, apiPids, true);
    const bareFixed = await cannon(ctx, `bare Koa @ ${rate} req/s`, bareUrl, ids, headers, pointSeconds, rate, barePids);
    const apiMax = await cannon(ctx, 'API flat out', api.url, ids, headers, pointMaxSeconds, undefined, apiPids, true);
    const bareMax = await cannon(ctx, 'bare Koa flat out', bareUrl, ids, headers, pointMaxSeconds, undefined, barePids);

    ctx.method.point =
      `load from a child process of its own (bench/load.child.ts) on loopback; ${ids.length} session ids of ${integrationId} read round-robin (all held in Redis by the projector). ` +
      `Fixed rate: open loop, one request due every ${1000 / rate} ms for ${pointSeconds} s over up to ${FIXED_CONNECTIONS} keep-alive sockets, each latency measured from the request's due time ` +
      "(autocannon's rate limit sends each second's quota in a burst, so it is not used for this). " +
      `Flat out: autocannon, ${MAX_CONNECTIONS} connections for ${pointMaxSeconds} s (1 ms latency resolution). The API is services/api.ts with RATE_LIMITS set so the limiter counts but never refuses; ` +
      'baseline: bench/bare-koa.child.ts (Koa + @koa/router, static same-shaped JSON).';
    ctx.details.point = { apiFixed, bareFixed, apiMax, bareMax };
    addFigure(ctx, { bench: 'point read', metric: `p50 @ ${rate} req/s`, unit: 'ms', value: apiFixed.p50, baseline: { label: 'bare Koa', value: bareFixed.p50 } });
    addFigure(ctx, {
      bench: 'point read',
      metric: `p99 @ ${rate} req/s`,
      unit: 'ms',
      value: apiFixed.p99,
      baseline: { label: 'bare Koa', value: bareFixed.p99 },
      target: { on: 'value', op: '<=', limit: 20 },
      note: `achieved ${apiFixed.reqPerSec} req/s, max ${apiFixed.max} ms (bare Koa ${bareFixed.max} ms), generator at worst ${apiFixed.maxScheduleLagMs ?? '-'} ms behind its schedule; cores busy: ${describeCpu(apiFixed.cpu)}`,
    });
    addFigure(ctx, {
      bench: 'point read',
      metric: 'max throughput',
      unit: 'req/s',
      value: apiMax.reqPerSec,
      baseline: { label: 'bare Koa', value: bareMax.reqPerSec },
      note: `p99 flat out ${apiMax.p99} ms vs ${bareMax.p99} ms; cores busy: ${describeCpu(apiMax.cpu)}`,
    });
  } finally {
    await ctx.memory.release('bare-koa');
    await bare.stop();
  }
}
