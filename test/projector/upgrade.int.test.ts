import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withGeneration } from '../../projections/store/generations.js';
import { tableNames } from '../../projections/store/table-set.js';
import { createHttpGateway } from '../../services/clickhouse/http-driver.js';
import { migrate, SchemaMismatchError } from '../../services/clickhouse/migrations.js';
import { readRouting } from '../../services/read-model.js';
import { faultTraffic } from '../faults/fault-support.js';
import { resolveClickHouseForTests, type TestClickHouse } from '../support/clickhouse-http-endpoint.js';
import { oldHourlyView, oldTimelineTable } from '../support/old-timeline.js';
import { provisionIntegration } from '../support/read-side.js';
import { runRebuild, tableExists } from '../support/rebuild-cli.js';
import { startStack, type TestStack } from '../support/stack.js';

/**
 * A deployment from before 2026-12-02, whose generation 1 timeline holds one
 * row per entry, moved to this version the way the README says: its workers
 * are stopped (their offsets committed), then the rebuild of this version
 * replays into a new generation. Generation 1 here is made in that old shape.
 */
let stack: TestStack;
let endpoint: TestClickHouse;
const old = tableNames(1);

const rebuild = (args: string[]) => runRebuild(stack, endpoint.url, args);

/** What a stopped worker of the old version leaves behind: the live group's offsets at the end of every topic. */
async function commitLiveGroupAtEnd(): Promise<void> {
  for (const topic of [stack.config.kafka.topics.sessions, stack.config.kafka.topics.integrations]) {
    const partitions = (await stack.admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
    await stack.admin.setOffsets({ groupId: stack.config.kafka.groupId, topic, partitions });
  }
}

const exists = (name: string) => tableExists(stack, name);

beforeAll(async () => {
  endpoint = await resolveClickHouseForTests();
  const gateway = createHttpGateway({ url: endpoint.url, username: 'default', password: '', database: 'default', requestTimeoutMs: 30_000 });
  stack = await startStack({ name: 'upgrade', env: { CLICKHOUSE_DRIVER: 'http', CLICKHOUSE_URL: endpoint.url }, clickhouse: { gateway, stop: () => endpoint.stop() } });
  // Generation 1 as the earlier version created it: the timeline one row per entry, and its hourly view.
  await stack.clickhouse.command(`DROP TABLE ${old.events_hourly_mv}`);
  await stack.clickhouse.command(`DROP TABLE ${old.session_events}`);
  await stack.clickhouse.command(oldTimelineTable(old.session_events));
  await stack.clickhouse.command(oldHourlyView(old));
});
afterAll(async () => {
  await stack?.stop();
});

describe('upgrading a deployment of the old timeline shape', () => {
  it('this version refuses to start on it, a rebuild of another projection refuses before replaying, and rebuilding session-events moves it', async () => {
    await provisionIntegration(stack, { integrationId: 'int_upgrade', tier: 'enterprise' });
    const traffic = faultTraffic(13, ['int_upgrade'], 600, 0.1);
    await stack.publish(traffic.published);
    await commitLiveGroupAtEnd();
    const before = await readRouting(stack.redis, stack.config.redis.keyPrefix);

    // Every process of this version runs migrate at start-up over the serving generations.
    await expect(migrate(stack.clickhouse, before.generations, pino({ level: 'silent' }))).rejects.toBeInstanceOf(SchemaMismatchError);

    const users = await rebuild(['--projection', 'users']);
    expect(users.code, users.output).not.toBe(0);
    expect(users.output).toContain(`table ${old.session_events} was created by another version`);
    expect(users.output).toContain('select session-events too');
    expect(users.output).not.toMatch(/replay: \d+\/\d+ messages/);
    expect((await readRouting(stack.redis, stack.config.redis.keyPrefix)).generations).toEqual(before.generations);

    const timeline = await rebuild(['--projection', 'session-events']);
    expect(timeline.code, timeline.output).toBe(0);
    const after = await readRouting(stack.redis, stack.config.redis.keyPrefix);
    expect(after.generations).toEqual(withGeneration(before.generations, ['session-events'], 2));
    // This version starts on what the rebuild left serving, and the new timeline holds every event once.
    const names = await migrate(stack.clickhouse, after.generations, pino({ level: 'silent' }));
    const [counts] = await stack.clickhouse.query<{ events: number; entries: number }>(
      `SELECT toUInt32(uniqExact(event_id)) AS events, toUInt32(sum(length(item_kind))) AS entries FROM ${names.session_events} FINAL WHERE integration_id = {i:String}`,
      { i: 'int_upgrade' },
    );
    const entries = traffic.events.reduce((n, e) => n + (e.type === 'session.activity' ? e.data.activities.length : 1), 0);
    expect(counts).toEqual({ events: traffic.events.length, entries });
    expect(await exists(names.events_hourly_mv)).toBe(true);
  });
});
