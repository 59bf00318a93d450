import { Agent, request } from 'node:http';

/** Nearest-rank percentile of a sample (p in 0..100); NaN for an empty sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(sample: readonly number[]): Summary {
  const mean = sample.length === 0 ? Number.NaN : sample.reduce((a, b) => a + b, 0) / sample.length;
  const r = (v: number) => Math.round(v * 100) / 100;
  return {
    n: sample.length,
    p50: r(percentile(sample, 50)),
    p95: r(percentile(sample, 95)),
    p99: r(percentile(sample, 99)),
    max: r(sample.length === 0 ? Number.NaN : Math.max(...sample)),
    mean: r(mean),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One keep-alive agent for every timed HTTP call the harness makes itself, so a
 * measurement never includes a TCP handshake (autocannon keeps its own sockets).
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface HttpAnswer {
  status: number;
  body: string;
  ms: number;
}

/**
 * GET with node:http rather than fetch: less client overhead inside the timed span.
 * A kept-alive socket the server closed as idle just as it was reused fails with
 * a reset before any answer (the race Node's documentation describes for
 * `reusedSocket`); that GET never reached the server as a request, so it is sent
 * again. Again more than once: after a burst the pool holds many sockets the
 * server closes together, and a retry can draw another of them (a freshness
 * pass on a loaded machine died of a "socket hang up" on one poll, with one
 * retry). Each failed socket is destroyed, so the retries drain the stale ones;
 * a reset of a fresh socket is an error.
 */
const REUSED_SOCKET_RETRIES = 3;

export function httpGet(url: string, headers: Record<string, string> = {}, retries = REUSED_SOCKET_RETRIES): Promise<HttpAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (retries > 0 && req.reusedSocket && error.code === 'ECONNRESET') resolve(httpGet(url, headers, retries - 1));
      else reject(error);
    });
    req.end();
  });
}

/**
 * A scrape of a Prometheus text endpoint. `sum(name, label)` adds the samples
 * of `name` whose label set contains `label` (every label set when it is
 * empty: prom-client adds default labels to every sample); undefined when the
 * endpoint has no such sample.
 */
export async function readMetrics(url: string): Promise<{ sum(name: string, label?: string): number | undefined }> {
  const samples: { name: string; labels: string; value: number }[] = [];
  for (const line of (await httpGet(url)).body.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-0-9.e+]+|NaN)$/.exec(line);
    if (match) samples.push({ name: match[1]!, labels: match[2] ?? '', value: Number(match[3]) });
  }
  return {
    sum(name, label = '') {
      const hits = samples.filter((x) => x.name === name && x.labels.includes(label));
      return hits.length === 0 ? undefined : hits.reduce((total, x) => total + x.value, 0);
    },
  };
}

export function closeHttpAgent(): void {
  agent.destroy();
}

/**
 * Times `runs` calls of each contender, interleaved (a, b, a, b, ...) after a
 * warm-up, so background work (merges, GC) lands on both alike.
 */
export async function timeInterleaved(
  contenders: Readonly<Record<string, () => Promise<void>>>,
  runs: number,
  warmup: number,
  onProgress?: (done: number) => void,
): Promise<Record<string, number[]>> {
  const names = Object.keys(contenders);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < warmup + runs; i++) {
    for (const name of names) {
      const started = performance.now();
      await contenders[name]!();
      if (i >= warmup) samples[name]!.push(performance.now() - started);
    }
    onProgress?.(Math.max(0, i - warmup + 1));
  }
  return samples;
}
