import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionIntegration } from '../support/read-side.js';
import { startProjectorProcess } from '../support/projector-process.js';
import { startStack, type TestStack } from '../support/stack.js';
import { discrepancies, expectedView, faultTraffic, projectorEnv, publishAll, startHttpClickHouse, waitDrained, type HttpClickHouse } from './fault-support.js';
import { eventually } from '../support/poll.js';

let clickhouse: HttpClickHouse;
let stack: TestStack;

beforeAll(async () => {
  clickhouse = await startHttpClickHouse();
  stack = await startStack({ name: 'graceful', clickhouse: clickhouse.stackOption() });
});
afterAll(async () => {
  await stack?.stop();
  await clickhouse?.stop();
});

describe('graceful shutdown', () => {
  it('SIGTERM to the API under load: every request in flight or sent while draining completes; no error reaches a client', async () => {
    const key = await provisionIntegration(stack, { integrationId: 'int_grace_api', tier: 'enterprise' });
    const groupId = `${stack.config.kafka.groupId}-api`;
    const projector = await startProjectorProcess({ env: projectorEnv(stack, clickhouse.endpoint.url, groupId), logFile: join(tmpdir(), `graceful-projector-${Date.now()}.log`) });
    const api = await startProjectorProcess({
      entry: 'api',
      env: { ...projectorEnv(stack, clickhouse.endpoint.url, groupId), API_DRAIN_MS: '1500', API_CURSOR_SECRET: 'graceful-test-secret-123' },
      logFile: join(tmpdir(), `graceful-api-${Date.now()}.log`),
    });
    try {
      await projector.waitReady();
      await api.waitReady();
      const base = `http://127.0.0.1:${api.port}`;
      await eventually(() => fetch(`${base}/v1/integration`, { headers: { 'x-api-key': key.rawKey } }).then((r) => r.status), { until: (s) => s === 200 });

      let stopping = false;
      let sigtermAt = Infinity;
      const outcomes: { status: number | 'refused' | 'error'; afterSigterm: boolean; detail?: string }[] = [];
      // Clients act as a balancer would: they keep sending through most of the drain window (while /readyz
      // says 503 and responses say Connection: close), then move away before the listener closes.
      const worker = async () => {
        while (Date.now() < sigtermAt + 1_000) {
          const afterSigterm = stopping;
          try {
            const res = await fetch(`${base}/v1/sessions?limit=20`, { headers: { authorization: `Bearer ${key.rawKey}` } });
            await res.arrayBuffer();
            outcomes.push({ status: res.status, afterSigterm });
          } catch (error) {
            const code = (error as { cause?: { code?: string } }).cause?.code;
            return void outcomes.push({ status: 'error', afterSigterm, detail: String(code ?? error) });
          }
        }
      };
      const load = Array.from({ length: 8 }, worker);
      await eventually(() => outcomes.length, { until: (n) => n >= 50 });
      stopping = true;
      sigtermAt = Date.now();
      api.kill('SIGTERM');
      await Promise.all(load);
      const readiness = await fetch(`${base}/readyz`).then((r) => r.status, () => 'closed');
      const exit = await api.exited;
      expect(exit.code, await api.tail()).toBe(0);
      expect(outcomes.filter((o) => o.status === 'error')).toEqual([]);
      expect(outcomes.filter((o) => typeof o.status === 'number' && o.status !== 200)).toEqual([]);
      expect(outcomes.filter((o) => o.afterSigterm && o.status === 200).length).toBeGreaterThan(0);
      expect([503, 'closed']).toContain(readiness);
    } finally {
      await api.stop();
      await projector.stop();
    }
  });

  it('SIGTERM to a projector under traffic: it finishes its batch, commits and exits 0; nothing is counted twice', async () => {
    const traffic = faultTraffic(77, ['int_grace_p'], 3_000);
    const groupId = `${stack.config.kafka.groupId}-projector`;
    const env = projectorEnv(stack, clickhouse.endpoint.url, groupId);
    const first = await startProjectorProcess({ env, logFile: join(tmpdir(), `graceful-p1-${Date.now()}.log`) });
    await first.waitReady();
    const publishing = publishAll(stack, traffic.published);
    await eventually(async () => (await stack.redis.hget(`${stack.config.redis.keyPrefix}g1:{int_grace_p}:stats`, 'events')) !== null);
    const exit = await first.stop(30_000);
    expect(exit.signal, await first.tail()).toBeNull();
    expect(exit.code, await first.tail()).toBe(0);
    await publishing;
    const second = await startProjectorProcess({ env, logFile: join(tmpdir(), `graceful-p2-${Date.now()}.log`) });
    try {
      const view = await waitDrained(stack, groupId, ['int_grace_p']);
      expect(discrepancies(expectedView(traffic.events), view)).toEqual({ lost: 0, doubleCounted: 0 });
    } finally {
      await second.stop();
    }
  });
});
