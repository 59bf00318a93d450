import { join } from 'node:path';
import autocannon, { type Result } from 'autocannon';
import { freePort } from '../../provision/free-port.js';
import { REPO_ROOT, spawnChild, waitHttpReady } from '../children.js';
import { addFigure, authHeaders, type BenchContext } from '../context.js';
import { describeCpu, measureCpu, type CpuShare } from '../cpu.js';
import { INGEST_INTEGRATIONS } from '../dataset.js';
import { log, task } from '../progress.js';
import { round } from '../results.js';
import { httpGet } from '../stats.js';

/** Enough connections that 1,000 req/s needs only ~30 req/s each, and the max run is not client-bound on loopback. */
const FIXED_CONNECTIONS = 32;
const MAX_CONNECTIONS = 32;

interface Run {
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  cpu: CpuShare;
}

/**
 * One autocannon run against `base`: each request reads the next session id of
 * the list (so Redis sees a spread of keys, not one hot key). With a rate set,
 * latencies are corrected for coordinated omission (autocannon's default).
 */
async function cannon(label: string, base: string, ids: readonly string[], headers: Record<string, string>, seconds: number, rate: number | undefined, pids: Record<string, number | undefined>): Promise<Run> {
  let next = 0;
  const progress = task(label, seconds, 's');
  const cpu = await measureCpu(pids);
  const instance = autocannon({
    url: base,
    connections: rate === undefined ? MAX_CONNECTIONS : FIXED_CONNECTIONS,
    duration: seconds,
    ...(rate === undefined ? {} : { overallRate: rate }),
    headers,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: `/v1/sessions/${ids[next++ % ids.length]}` }) }],
  });
  let elapsed = 0;
  instance.on('tick', () => progress.update(++elapsed));
  const result: Result = await instance;
  const share = await cpu();
  const out: Run = {
    reqPerSec: round(result.requests.total / result.duration, 0),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpu: share,
  };
  progress.done(`${out.reqPerSec} req/s, p50 ${out.p50} ms, p99 ${out.p99} ms${out.non2xx ? `, ${out.non2xx} non-2xx` : ''}; cores busy: ${describeCpu(share)}`);
  if (out.non2xx > 0 || out.errors > 0) log(`WARNING: ${label}: ${out.non2xx} non-2xx answers, ${out.errors} errors`);
  return out;
}

/**
 * GET /v1/sessions/{id} through the whole API (auth, rate limit, usage
 * metering, Redis read) vs a bare Koa endpoint serving a same-shaped document,
 * both child processes, autocannon in the harness on loopback: first at a
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
  const bare = spawnChild(env, 'bare-koa', join(REPO_ROOT, 'bench/bare-koa.child.ts'), { BENCH_PORT: String(port) }, { profileDir: ctx.profileDir });
  const bareUrl = `http://127.0.0.1:${port}`;
  await waitHttpReady(bare, `${bareUrl}/health`);
  ctx.memory.watch('bare-koa', bare);
  const headers = authHeaders(key);
  const { pointRate: rate, pointSeconds, pointMaxSeconds } = options.sizes;
  const apiPids = { api: api.child.pid, ...env.servicePids() };
  const barePids = { 'bare-koa': bare.pid, 'harness+clickhouse': process.pid };
  try {
    // The API's first requests warm the key cache and JIT; neither run should pay for that.
    await cannon('warm-up', api.url, ids, headers, 2, undefined, apiPids);
    const apiFixed = await cannon(`API @ ${rate} req/s`, api.url, ids, headers, pointSeconds, rate, apiPids);
    const bareFixed = await cannon(`bare Koa @ ${rate} req/s`, bareUrl, ids, headers, pointSeconds, rate, barePids);
    const apiMax = await cannon('API flat out', api.url, ids, headers, pointMaxSeconds, undefined, apiPids);
    const bareMax = await cannon('bare Koa flat out', bareUrl, ids, headers, pointMaxSeconds, undefined, barePids);

    ctx.method.point =
      `autocannon in the harness on loopback; ${ids.length} session ids of ${integrationId} read round-robin (all held in Redis by the projector). ` +
      `Fixed rate: overallRate ${rate} req/s over ${FIXED_CONNECTIONS} connections for ${pointSeconds} s, latencies corrected for coordinated omission. ` +
      `Flat out: ${MAX_CONNECTIONS} connections for ${pointMaxSeconds} s. The API is services/api.ts with RATE_LIMITS set so the limiter counts but never refuses; ` +
      'baseline: bench/bare-koa.child.ts (Koa + @koa/router, static same-shaped JSON). autocannon latencies have 1 ms resolution.';
    ctx.details.point = { apiFixed, bareFixed, apiMax, bareMax };
    addFigure(ctx, { bench: 'point read', metric: `p50 @ ${rate} req/s`, unit: 'ms', value: apiFixed.p50, baseline: { label: 'bare Koa', value: bareFixed.p50 } });
    addFigure(ctx, {
      bench: 'point read',
      metric: `p99 @ ${rate} req/s`,
      unit: 'ms',
      value: apiFixed.p99,
      baseline: { label: 'bare Koa', value: bareFixed.p99 },
      target: { on: 'value', op: '<=', limit: 20 },
      note: `achieved ${apiFixed.reqPerSec} req/s; cores busy: ${describeCpu(apiFixed.cpu)}`,
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
