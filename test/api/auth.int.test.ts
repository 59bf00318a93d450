import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MintedApiKey } from '../../services/keys/api-keys.js';
import { eventually } from '../support/poll.js';
import { get, provisionIntegration, revokeKey, setIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let side: ReadSide;
let key: MintedApiKey;
const logLines: string[] = [];

const ready = (k: MintedApiKey) =>
  eventually(() => get(side.url, '/v1/integration', k.rawKey), { until: (r) => r.status === 200, what: 'key usable' });

beforeAll(async () => {
  stack = await startStack({ name: 'auth', logLines });
  side = await startReadSide(stack);
  key = await provisionIntegration(stack, { integrationId: 'int_auth', tier: 'pro', name: 'Auth U' });
  await ready(key);
});
afterAll(async () => {
  await side?.stop();
  await stack?.stop();
});

describe('authentication', () => {
  it('accepts the key as Bearer or x-api-key and resolves the integration', async () => {
    const bearer = await get(side.url, '/v1/integration', key.rawKey);
    const header = await get(side.url, '/v1/integration', undefined, { 'x-api-key': key.rawKey });
    expect(bearer.body.data).toEqual(header.body.data);
    expect(bearer.body.data).toMatchObject({ id: 'int_auth', name: 'Auth U', tier: 'pro', region: 'us', status: 'active', apiKey: { id: key.keyId, displayPrefix: key.displayPrefix } });
  });

  const cases: [string, Record<string, string>, number, string][] = [
    ['no key', {}, 401, 'missing_api_key'],
    ['not a bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'malformed_api_key'],
    ['not an aik_v1_ key', { 'x-api-key': 'sk_live_123' }, 401, 'malformed_api_key'],
    ['unknown key', { 'x-api-key': `aik_v1_${'x'.repeat(40)}` }, 401, 'invalid_api_key'],
  ];
  it.each(cases)('%s: %i %s in the envelope', async (_name, headers, status, code) => {
    const res = await get(side.url, '/v1/sessions', undefined, headers);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({ code, message: expect.any(String), details: expect.any(Object) });
  });

  it('two different keys in the two headers are refused', async () => {
    const res = await get(side.url, '/v1/stats', key.rawKey, { 'x-api-key': `aik_v1_${'y'.repeat(40)}` });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('malformed_api_key');
  });

  it('a key of another region is refused with wrong_region', async () => {
    const eu = await provisionIntegration(stack, { integrationId: 'int_auth_eu', tier: 'pro', region: 'eu' });
    const res = await eventually(() => get(side.url, '/v1/stats', eu.rawKey), { until: (r) => r.status !== 401 });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('wrong_region');
  });

  it('a revoked key stops working within 2 seconds of its event', async () => {
    const doomed = await provisionIntegration(stack, { integrationId: 'int_auth_rev', tier: 'free' });
    await ready(doomed);
    const revokedAt = Date.now();
    await revokeKey(stack, 'int_auth_rev', doomed);
    const res = await eventually(() => get(side.url, '/v1/stats', doomed.rawKey), { until: (r) => r.status === 401, intervalMs: 50, timeoutMs: 5_000 });
    expect(Date.now() - revokedAt).toBeLessThan(2_000);
    expect(res.body.error.code).toBe('revoked_api_key');
  });

  it('a suspended integration loses access within 2 seconds, and regains it when reactivated', async () => {
    const k = await provisionIntegration(stack, { integrationId: 'int_auth_susp', tier: 'starter' });
    await ready(k);
    const at = Date.now();
    await setIntegration(stack, { integrationId: 'int_auth_susp', tier: 'starter', status: 'suspended' });
    const res = await eventually(() => get(side.url, '/v1/stats', k.rawKey), { until: (r) => r.status === 403, intervalMs: 50, timeoutMs: 5_000 });
    expect(Date.now() - at).toBeLessThan(2_000);
    expect(res.body.error.code).toBe('integration_suspended');
    await setIntegration(stack, { integrationId: 'int_auth_susp', tier: 'starter', status: 'active' });
    await ready(k);
  });

  it('health, spec and metrics need no key', async () => {
    for (const path of ['/health', '/readyz', '/openapi/v3.json', '/swagger', '/metrics']) {
      expect((await get(side.url, path)).status, path).toBe(200);
    }
  });

  it('the raw key never reaches a log line or the integrations topic', async () => {
    await get(side.url, '/v1/sessions/not-a-session', key.rawKey);
    await get(side.url, '/v1/stats', undefined, { 'x-api-key': key.rawKey });
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.includes(key.rawKey))).toEqual([]);
    const topic = await readTopic(stack.config.kafka.topics.integrations);
    expect(topic.some((v) => v.includes(key.keyHash))).toBe(true);
    expect(topic.filter((v) => v.includes(key.rawKey))).toEqual([]);
  });

  it('the raw key never reaches Redis', async () => {
    const keysInRedis = await stack.redis.keys(`${stack.config.redis.keyPrefix}*`);
    for (const k of keysInRedis) expect(k).not.toContain(key.rawKey);
    for (const k of keysInRedis.filter((x) => x.includes(':key:'))) {
      const values = Object.values(await stack.redis.hgetall(k)).join('\n');
      expect(values).not.toContain(key.rawKey);
    }
  });
});

async function readTopic(topic: string): Promise<string[]> {
  const values: string[] = [];
  const consumer = stack.kafka.consumer({ groupId: `reader-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const offsets = await stack.admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value?.toString() ?? '') });
  try {
    await eventually(() => values.length, { until: (n) => n >= total, what: `all ${total} messages of ${topic}` });
    return values;
  } finally {
    await consumer.disconnect();
  }
}
