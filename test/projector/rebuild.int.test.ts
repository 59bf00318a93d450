import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniformGenerations, withGeneration, type ProjectionName } from '../../projections/store/generations.js';
import { projectionKeys, routingKeys } from '../../projections/store/redis-keys.js';
import { tableNames } from '../../projections/store/table-set.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { createHttpGateway } from '../../services/clickhouse/http-driver.js';
import { readRouting } from '../../services/read-model.js';
import { expectedTotals } from '../../services/simulator/totals.js';
import { chunked, discrepancies, expectedView, faultTraffic, waitDrained } from '../faults/fault-support.js';
import { resolveClickHouseForTests, type TestClickHouse } from '../support/clickhouse-http-endpoint.js';
import { eventually } from '../support/poll.js';
import { get, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { runRebuild, tableExists } from '../support/rebuild-cli.js';
import { startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let side: ReadSide;
let endpoint: TestClickHouse;

const rebuild = (args: string[]) => runRebuild(stack, endpoint.url, args);

/** Publishes in small chunks with pauses, so the traffic is still flowing while a rebuild runs. */
async function trickle(events: readonly SessionEvent[], chunk: number, pauseMs: number): Promise<void> {
  for (const part of chunked(events, chunk)) {
    await stack.publish(part);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

const exists = (name: string) => tableExists(stack, name);

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
  it('rebuilds every projection into a new generation while generation 1 serves, then switches reads with identical answers', async () => {
    const key = await provisionIntegration(stack, { integrationId: 'int_rebuild', tier: 'enterprise' });
    const traffic = faultTraffic(5, ['int_rebuild'], 600, 0.1);
    await stack.publish(traffic.published);
    const totals = expectedTotals(traffic.events).byIntegration.int_rebuild!;
    const projected = await eventually(() => get(side.url, '/v1/stats', key.rawKey), {
      until: (r) => r.status === 200 && r.body.data.events === traffic.events.length && r.body.data.sessions === totals.sessions,
    });
    const listBefore = await get(side.url, '/v1/sessions?limit=200', key.rawKey);

    const result = await rebuild([]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('switched sessions, session-events, analytics, users, courses, stats, api-keys to generation 2');
    expect((await readRouting(stack.redis, stack.config.redis.keyPrefix)).generations).toEqual(uniformGenerations(2));

    // The API follows the pointers; generation 2 must answer exactly as generation 1 did.
    await eventually(async () => (await stack.redis.exists(`${stack.config.redis.keyPrefix}g2:{int_rebuild}:stats`)) === 1);
    const after = await eventually(() => get(side.url, '/v1/stats', key.rawKey), { until: (r) => r.status === 200 && r.body.data.events === traffic.events.length });
    expect(after.body.data).toEqual(projected.body.data);
    expect((await get(side.url, '/v1/sessions?limit=200', key.rawKey)).body.data).toEqual(listBefore.body.data);
    expect(discrepancies(expectedView(traffic.events), await waitDrained(stack, stack.config.kafka.groupId, ['int_rebuild'], 60_000, 2))).toEqual({ lost: 0, doubleCounted: 0 });
  });

  it('rebuilds some projections alone under live traffic: exact at the handoff, the others never move', async () => {
    const key = await provisionIntegration(stack, { integrationId: 'int_partial', tier: 'enterprise' });
    const before = await readRouting(stack.redis, stack.config.redis.keyPrefix);
    const traffic = faultTraffic(6, ['int_partial'], 4_000, 0.1);
    const [early, late] = [traffic.published.slice(0, 1_500), traffic.published.slice(1_500)];
    await stack.publish(early);
    const earlyEvents = new Map(early.map((e) => [e.eventId, e]));
    await waitDrained(stack, stack.config.kafka.groupId, ['int_partial'], 60_000, before.generations).then((view) =>
      expect(discrepancies(expectedView([...earlyEvents.values()]), view)).toEqual({ lost: 0, doubleCounted: 0 }),
    );

    // Damage what is rebuilt: the counters and the users table lose their data.
    await stack.redis.del(projectionKeys(stack.config.redis.keyPrefix, before.generations).stats('int_partial'));
    await stack.clickhouse.command(`TRUNCATE TABLE ${tableNames(before.generations).user_sessions}`);

    const selected: ProjectionName[] = ['stats', 'analytics', 'users'];
    const [result] = await Promise.all([rebuild(['--projection', selected.join(',')]), trickle(late, 100, 120)]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/switched analytics, users, stats to generation 3 after [\d.]+ s standing still/);
    const after = await readRouting(stack.redis, stack.config.redis.keyPrefix);
    expect(after).toEqual({ generations: withGeneration(before.generations, selected, 3), handoff: null });

    // Every counter of every projection, read from the serving generations, equals the oracle: nothing lost, nothing twice.
    const view = await waitDrained(stack, stack.config.kafka.groupId, ['int_partial'], 90_000, after.generations);
    expect(discrepancies(expectedView(traffic.events), view)).toEqual({ lost: 0, doubleCounted: 0 });
    const totals = expectedTotals(traffic.events).byIntegration.int_partial!;
    const users = await eventually(() => get(side.url, '/v1/users?limit=200', key.rawKey), {
      until: (r) => r.status === 200 && r.body.data.length === totals.users,
    });
    expect(users.body.data.reduce((n: number, u: { sessionCount: number }) => n + u.sessionCount, 0)).toBe(totals.identifiedSessions);
    const stats = await eventually(() => get(side.url, '/v1/stats', key.rawKey), { until: (r) => r.status === 200 && r.body.data.events === traffic.events.length });
    expect(stats.body.data.sessions).toBe(totals.sessions);

    // What the rebuild needed only to compute (its own fold state) is gone; the old view stopped feeding.
    expect(await exists('sessions_g3')).toBe(false);
    expect(await exists('session_events_g3')).toBe(false);
    expect(await exists(tableNames(before.generations).events_hourly_mv)).toBe(false);
    expect(await exists(tableNames(after.generations).events_hourly_mv)).toBe(true);
    expect(await stack.redis.exists(routingKeys(stack.config.redis.keyPrefix).handoff)).toBe(0);
  });

  it('moves session events alone: the view is re-pointed and analytics stays exact', async () => {
    await provisionIntegration(stack, { integrationId: 'int_timeline', tier: 'enterprise' });
    const before = await readRouting(stack.redis, stack.config.redis.keyPrefix);
    const traffic = faultTraffic(7, ['int_timeline'], 2_500, 0.1);
    await stack.publish(traffic.published.slice(0, 1_000));
    const [result] = await Promise.all([rebuild(['--projection', 'session-events']), trickle(traffic.published.slice(1_000), 100, 120)]);
    expect(result.code, result.output).toBe(0);
    const after = await readRouting(stack.redis, stack.config.redis.keyPrefix);
    expect(after.generations).toEqual(withGeneration(before.generations, ['session-events'], 4));
    const view = await waitDrained(stack, stack.config.kafka.groupId, ['int_timeline'], 90_000, after.generations);
    expect(discrepancies(expectedView(traffic.events), view)).toEqual({ lost: 0, doubleCounted: 0 });
    expect(await exists('sessions_g4')).toBe(false);
    expect(await exists(tableNames(after.generations).events_hourly_mv)).toBe(true);
  });
});
