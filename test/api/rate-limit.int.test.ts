import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer, type ApiServer } from '../../services/api-server.js';
import { createReadModelResolver } from '../../services/read-model.js';
import { storesReady } from '../../services/runtime.js';
import { get, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { eventually } from '../support/poll.js';
import { startStack, type TestStack } from '../support/stack.js';

const LIMIT = 25;
let stack: TestStack;
let side: ReadSide;
let second: ApiServer;

beforeAll(async () => {
  // A short window keeps the test quick; a tier with a small limit makes the burst cross it.
  stack = await startStack({ name: 'ratelimit', env: { RATE_LIMITS: `free=${LIMIT},starter=300,pro=1200,enterprise=6000`, RATE_LIMIT_WINDOW_MS: '60000' } });
  side = await startReadSide(stack);
  const readModel = createReadModelResolver({ clickhouse: stack.clickhouse, redis: stack.redis, logger: stack.logger }, { prefix: stack.config.redis.keyPrefix, refreshMs: 500 });
  await readModel.start();
  second = createApiServer(stack.config, { readModel: readModel.current, redis: stack.redis, registry: stack.registry, logger: stack.logger, ready: storesReady(stack), now: Date.now });
  await second.start();
});
afterAll(async () => {
  await second?.stop();
  await side?.stop();
  await stack?.stop();
});

describe('rate limits', () => {
  it('a concurrent burst through two API instances and both header forms lets exactly the limit through', async () => {
    const key = await provisionIntegration(stack, { integrationId: 'int_rl', tier: 'free' });
    // Waiting for the key spends one request of the window.
    await eventually(() => get(side.url, '/health'), { until: (r) => r.status === 200 });
    const probe = await eventually(() => get(side.url, '/v1/stats', key.rawKey), { until: (r) => r.status === 200 });
    const used = LIMIT - Number(probe.headers.get('x-ratelimit-remaining'));
    const burst = 3 * LIMIT;
    const results = await Promise.all(
      Array.from({ length: burst }, (_, i) => {
        const base = i % 2 === 0 ? side.url : second.url();
        const headers: Record<string, string> = i % 3 === 0 ? { 'x-api-key': key.rawKey } : { authorization: `Bearer ${key.rawKey}` };
        return get(base, '/v1/stats', undefined, headers);
      }),
    );
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toBe(LIMIT - used);
    expect(limited).toHaveLength(burst - ok);
    for (const r of limited) {
      expect(r.body.error.code).toBe('rate_limited');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(r.body.error.details.retryAfterSeconds).toBe(Number(r.headers.get('retry-after')));
    }
  });
});
