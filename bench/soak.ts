import { parseArgs } from 'node:util';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort } from '../provision/free-port.js';
import { publishTraffic } from '../services/simulator/publisher.js';
import { createTrafficGenerator } from '../services/simulator/traffic.js';
import { REPO_ROOT, readRss, spawnChild, waitHttpReady } from './children.js';
import { authHeaders } from './context.js';
import { INGEST_INTEGRATIONS, preloadTraffic, provisionIntegrations, sessionsPerSecondFor } from './dataset.js';
import { startEnvironment } from './environment.js';
import { eventually } from '../test/support/poll.js';
import { log } from './progress.js';

/**
 * Soak: the API held at a stated fraction of its measured capacity for N
 * minutes while ingest runs, in windows. Reports the error rate (must be 0),
 * p99 per window (stable = the worst window stays near the median), and the
 * memory slope of both processes (MB per minute, by least squares; flat ≈ 0).
 *   npm run soak -- --minutes 10 --fraction 0.5 --ingest 500
 *   npm run soak -- --quick        (30 s; part of npm test)
 */
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    fraction: { type: 'string', default: '0.5' },
    ingest: { type: 'string', default: '500' },
    window: { type: 'string', default: '10' },
    quick: { type: 'boolean', default: false },
  },
  strict: true,
});
const seconds = values.quick ? 30 : Math.round(Number(values.minutes) * 60);
const fraction = Number(values.fraction);
const ingestRate = Number(values.ingest);
const windowSeconds = values.quick ? 5 : Number(values.window);

const env = await startEnvironment();
const children: { stop(): Promise<unknown> }[] = [];
let failed = false;
try {
  const keys = await provisionIntegrations(env, [...INGEST_INTEGRATIONS]);
  const preloaded = await preloadTraffic(env, { seed: 11, integrationIds: INGEST_INTEGRATIONS, events: values.quick ? 5_000 : 20_000, keepSessionIds: 2_000 });
  const projector = spawnChild(env, 'projector', join(REPO_ROOT, 'services/projector.ts'), { PROJECTOR_METRICS_PORT: String(await freePort()) }, { service: 'projector' });
  const port = await freePort();
  const api = spawnChild(env, 'api', join(REPO_ROOT, 'services/api.ts'), { API_PORT: String(port) }, { service: 'api' });
  children.push(projector, api);
  const url = `http://127.0.0.1:${port}`;
  await waitHttpReady(api, `${url}/readyz`);
  const key = keys[INGEST_INTEGRATIONS[0]]!;
  const ids = preloaded.sessionIds;
  let next = 0;
  const cannon = (duration: number, rate?: number) =>
    autocannon({
      url,
      connections: 16,
      duration,
      ...(rate ? { overallRate: rate } : {}),
      headers: authHeaders(key),
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: `/v1/sessions/${ids[next++ % ids.length]}` }) }],
    });
  // Wait until the preloaded sessions are readable, then measure capacity with ingest running.
  const probe = async () => (await fetch(`${url}/v1/sessions/${ids[ids.length - 1]}`, { headers: authHeaders(key) })).status;
  await eventually(probe, { until: (status) => status === 200, timeoutMs: 180_000, intervalMs: 250, what: 'the preloaded sessions to be readable' });
  const traffic = new AbortController();
  const generator = createTrafficGenerator({ seed: 12, integrationIds: INGEST_INTEGRATIONS, startAt: new Date(), sessionsPerSecond: sessionsPerSecondFor(ingestRate) });
  const ingest = publishTraffic(generator.messages(), { rate: ingestRate, progress: 'none', signal: traffic.signal, topic: env.config.kafka.topics.sessions }, { producer: env.producer, logger: env.logger });
  const capacity = (await cannon(5)).requests.average;
  const rate = Math.max(1, Math.round(capacity * fraction));
  log(`capacity ${Math.round(capacity)} req/s with ingest at ${ingestRate} events/s; soaking at ${rate} req/s (${fraction}×) for ${seconds} s in ${windowSeconds} s windows`);

  const rows: { t: number; p99: number; requests: number; errors: number; apiMb: number; projectorMb: number }[] = [];
  const started = Date.now();
  while ((Date.now() - started) / 1000 < seconds) {
    const result = await cannon(windowSeconds, rate);
    const [apiRss, projectorRss] = await Promise.all([readRss(api.pid), readRss(projector.pid)]);
    const row = {
      t: Math.round((Date.now() - started) / 1000),
      p99: result.latency.p99,
      requests: result.requests.total,
      errors: result.errors + result.non2xx,
      apiMb: Math.round(apiRss?.rssMb ?? NaN),
      projectorMb: Math.round(projectorRss?.rssMb ?? NaN),
    };
    rows.push(row);
    log(`t=${row.t}s  p99 ${row.p99} ms  ${row.requests} requests  ${row.errors} errors  RSS api ${row.apiMb} MB, projector ${row.projectorMb} MB`);
  }
  traffic.abort();
  const published = await ingest;

  const slope = (pick: (r: (typeof rows)[number]) => number): number => {
    const xs = rows.map((r) => r.t / 60);
    const ys = rows.map(pick);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const num = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i]! - my), 0);
    const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
    return den === 0 ? 0 : num / den;
  };
  const p99s = rows.map((r) => r.p99).sort((a, b) => a - b);
  const median = p99s[Math.floor(p99s.length / 2)] ?? 0;
  const requests = rows.reduce((n, r) => n + r.requests, 0);
  const errors = rows.reduce((n, r) => n + r.errors, 0);
  console.log('\nsoak summary');
  console.log(`  duration             ${seconds} s at ${rate} req/s (${fraction}× of ${Math.round(capacity)} req/s measured), ingest ${published.sent} events`);
  console.log(`  requests / errors    ${requests} / ${errors}  (error rate ${((errors / Math.max(1, requests)) * 100).toFixed(3)}%)`);
  console.log(`  p99 per window       median ${median} ms, worst ${p99s[p99s.length - 1]} ms (${(p99s[p99s.length - 1]! / Math.max(1, median)).toFixed(2)}× median)`);
  console.log(`  memory slope         API ${slope((r) => r.apiMb).toFixed(2)} MB/min, projector ${slope((r) => r.projectorMb).toFixed(2)} MB/min`);
  failed = errors > 0;
} finally {
  for (const child of children) await child.stop().catch(() => undefined);
  await env.stop();
}
if (failed) {
  console.error('soak FAILED: requests errored');
  process.exit(1);
}
