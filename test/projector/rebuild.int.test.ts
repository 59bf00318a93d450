import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servingGenerationKey } from '../../projections/store/redis-keys.js';
import { createHttpGateway } from '../../services/clickhouse/http-driver.js';
import { expectedTotals } from '../../services/simulator/totals.js';
import { createTrafficGenerator } from '../../services/simulator/traffic.js';
import { resolveClickHouseForTests, type TestClickHouse } from '../support/clickhouse-http-endpoint.js';
import { eventually } from '../support/poll.js';
import { get, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let side: ReadSide;
let endpoint: TestClickHouse;

/** Runs the rebuild CLI as a real process against the same stores; resolves with its stderr. */
function runRebuild(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/rebuild.ts', '--progress', 'log'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  endpoint = await resolveClickHouseForTests();
  const gateway = createHttpGateway({ url: endpoint.url, username: 'default', password: '', database: 'default', requestTimeoutMs: 30_000 });
  stack = await startStack({ name: 'rebuild', env: { CLICKHOUSE_DRIVER: 'http', CLICKHOUSE_URL: endpoint.url }, clickhouse: { gateway, stop: () => endpoint.stop() } });
  side = await startReadSide(stack);
});
afterAll(async () => {
  await side?.stop();
  await stack?.stop();
});

describe('rebuild', () => {
  it('replays every topic into a new generation while generation 1 serves, then switches reads with identical answers', async () => {
    const key = await provisionIntegration(stack, { integrationId: 'int_rebuild', tier: 'enterprise' });
    const generator = createTrafficGenerator({ seed: 5, integrationIds: ['int_rebuild'], startAt: new Date(Date.now() - 3_600_000) });
    const events = Array.from({ length: 40 }, () => generator.nextSession()).flat();
    await stack.publish(events);
    const totals = expectedTotals(events).byIntegration.int_rebuild!;
    const projected = await eventually(() => get(side.url, '/v1/stats', key.rawKey), {
      until: (r) => r.status === 200 && r.body.data.events === events.length && r.body.data.sessions === totals.sessions,
    });
    const listBefore = await get(side.url, '/v1/sessions?limit=200', key.rawKey);

    const env = {
      KAFKA_BROKERS: stack.config.kafka.brokers!.join(','),
      KAFKA_TOPIC_NAMESPACE: stack.config.kafka.topics.sessions.slice(0, -'notai.sessions.v1'.length),
      KAFKA_GROUP_ID: stack.config.kafka.groupId,
      REDIS_URL: stack.config.redis.url,
      REDIS_KEY_PREFIX: stack.config.redis.keyPrefix,
      CLICKHOUSE_DRIVER: 'http',
      CLICKHOUSE_URL: endpoint.url,
      LOG_LEVEL: 'warn',
    };
    const result = await runRebuild(env);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('generation 2 caught up');
    expect(await stack.redis.get(servingGenerationKey(stack.config.redis.keyPrefix))).toBe('2');

    // The API follows the pointer; generation 2 must answer exactly as generation 1 did.
    await eventually(async () => (await stack.redis.exists(`${stack.config.redis.keyPrefix}g2:{int_rebuild}:stats`)) === 1);
    const after = await eventually(() => get(side.url, '/v1/stats', key.rawKey), { until: (r) => r.status === 200 && r.body.data.events === events.length });
    expect(after.body.data).toEqual(projected.body.data);
    const listAfter = await get(side.url, '/v1/sessions?limit=200', key.rawKey);
    expect(listAfter.body.data).toEqual(listBefore.body.data);
  });
});
