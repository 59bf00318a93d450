import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import autocannon, { type Result } from 'autocannon';
import { summarize } from './stats.js';

/**
 * Child process: the point-read load generator, in a process of its own
 * rather than in the harness (which holds the heap of the earlier phases).
 * Each request reads the next session id of the list, so Redis sees a spread
 * of keys, not one hot key.
 *
 * Flat out (no rate): autocannon, closed loop over `connections`.
 *
 * At a rate: an open-loop generator of our own, because autocannon's rate
 * limit is not a rate. Each of its connections sends its per-second quota
 * back to back when the second starts and then idles (httpClient.js resets
 * `reqsMadeThisSecond` once a second), so "1,000 req/s" over 32 connections
 * is a burst at full speed every second; and its coordinated-omission
 * correction takes the expected interval as ceil(1 / rate) with the rate per
 * connection, i.e. 1 ms, adding a synthetic sample for every millisecond of
 * every response. Both inflate the tail: bare Koa, which answers in well under
 * a millisecond, showed p99 36 and 178 ms at "1,000 req/s". Here request i is
 * due at start + i / rate, and its latency runs from when it was due (not
 * when it was sent), so any stall of the generator or the server counts
 * against the result rather than being hidden by it.
 *
 * BENCH_LOAD names a JSON file with the run; the result is written to
 * BENCH_LOAD_RESULT as JSON.
 */
interface LoadSpec {
  url: string;
  ids: string[];
  headers: Record<string, string>;
  seconds: number;
  connections: number;
  /** Requests per second; flat out when absent. */
  rate?: number;
}

export interface LoadResult {
  total: number;
  /** Seconds. */
  duration: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  /** How far behind its schedule the open-loop generator fell at worst, in ms (absent flat out). */
  maxScheduleLagMs?: number;
  /**
   * CPU this generator used over the run (user + system), in seconds: it shares the machine with the server
   * it measures, and the harness cannot read it from /proc once the process has exited.
   */
  cpuSeconds: number;
}

const specPath = process.env.BENCH_LOAD;
const resultPath = process.env.BENCH_LOAD_RESULT;
if (!specPath || !resultPath) throw new Error('BENCH_LOAD and BENCH_LOAD_RESULT are required');
const spec = JSON.parse(readFileSync(specPath, 'utf8')) as LoadSpec;
if (spec.ids.length === 0) throw new Error('no session ids to read');
let next = 0;
const nextPath = (): string => `/v1/sessions/${spec.ids[next++ % spec.ids.length]}`;


async function flatOut(): Promise<Omit<LoadResult, 'cpuSeconds'>> {
  const result: Result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.seconds,
    headers: spec.headers,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: nextPath() }) }],
  });
  return {
    total: result.requests.total,
    duration: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function paced(rate: number): Promise<Omit<LoadResult, 'cpuSeconds'>> {
  const url = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let maxLag = 0;
  const total = Math.round(rate * spec.seconds);
  const intervalMs = 1000 / rate;
  const request = (dueAt: number): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: url.hostname, port: url.port, path: nextPath(), headers: spec.headers, agent }, (res) => {
        if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode >= 300) non2xx++;
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - dueAt);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    // Everything due by now goes out now; a late tick sends its backlog, and the latency counts from the due time.
    while (sent < total && start + sent * intervalMs <= now) {
      const dueAt = start + sent * intervalMs;
      maxLag = Math.max(maxLag, now - dueAt);
      inFlight.push(request(dueAt));
      sent++;
    }
    if (sent === total) break;
    // Sleep until the next request is due (only yield when already behind). Timers have a resolution of 1 ms, so
    // a request may go out up to about a millisecond late, which counts against the result (latency runs from the
    // due time): the bare Koa baseline's p50 shows that floor. Yielding with setImmediate while waiting instead
    // spun this process at a full core, on a machine of two that the API and Redis share.
    const wait = start + sent * intervalMs - performance.now();
    await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, Math.ceil(wait)) : setImmediate(resolve)));
  }
  await Promise.all(inFlight);
  const duration = (performance.now() - start) / 1000;
  agent.destroy();
  const { n, p50, p99, max } = summarize(latencies);
  return { total: n, duration, p50, p99, max, non2xx, errors, maxScheduleLagMs: Math.round(maxLag * 100) / 100 };
}

const cpuBefore = process.cpuUsage();
const result = spec.rate === undefined ? await flatOut() : await paced(spec.rate);
const cpu = process.cpuUsage(cpuBefore);
writeFileSync(resultPath, JSON.stringify({ ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6 } satisfies LoadResult));
