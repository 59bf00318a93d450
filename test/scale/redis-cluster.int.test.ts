import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisCluster } from '../../provision/redis-server.js';
import { createTrafficGenerator } from '../../services/simulator/traffic.js';
import { expectedTotals } from '../../services/simulator/totals.js';
import { eventually } from '../support/poll.js';
import { get, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

let cluster: RedisCluster;
let stack: TestStack;
let side: ReadSide;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  stack = await startStack({ name: 'rediscluster', env: { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') } });
  side = await startReadSide(stack);
});
afterAll(async () => {
  await side?.stop();
  await stack?.stop();
  await cluster?.stop();
});

describe('Redis Cluster', () => {
  it('projects and serves exactly on a 3-master cluster: every multi-key script and pipeline stays on one slot', async () => {
    const integrations = ['int_rc_a', 'int_rc_b', 'int_rc_c', 'int_rc_d'];
    const keys = await Promise.all(integrations.map((integrationId) => provisionIntegration(stack, { integrationId, tier: 'enterprise' })));
    const generator = createTrafficGenerator({ seed: 3, integrationIds: integrations, startAt: new Date(Date.now() - 3_600_000) });
    const events = Array.from({ length: 60 }, () => generator.nextSession()).flat();
    await stack.publish(events);
    const totals = expectedTotals(events).byIntegration;
    // The integrations' keys hash to different slots, so the cluster really spreads them.
    const slots = new Set(await Promise.all(integrations.map((i) => stack.redis.call('CLUSTER', 'KEYSLOT', `{${i}}`))));
    expect(slots.size).toBeGreaterThan(1);
    for (const [i, integrationId] of integrations.entries()) {
      const expected = totals[integrationId]!;
      const eventCount = Object.values(expected.eventsByType).reduce((a, b) => a + b, 0);
      const res = await eventually(() => get(side.url, '/v1/stats', keys[i]!.rawKey), {
        until: (r) => r.status === 200 && r.body.data.events === eventCount && r.body.data.sessions === expected.sessions,
        what: `${integrationId} on the cluster`,
      });
      expect(res.body.data.sessionsByStatus).toEqual(expected.latestStatus);
      const usage = await eventually(() => get(side.url, '/v1/usage', keys[i]!.rawKey), { until: (r) => r.status === 200 && r.body.data.total.requests > 0 });
      expect(usage.headers.get('x-ratelimit-limit')).toBe('6000');
    }
  });
});
