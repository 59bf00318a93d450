import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchProjector } from '../../projections/runtime/batch-projector.js';
import { SinkError, type SourceMessage } from '../../projections/runtime/messages.js';
import { parseState } from '../../projections/runtime/session-loader.js';
import { TimelineMemo } from '../../projections/runtime/timeline-memo.js';
import { evolveSession, type SessionState } from '../../projections/sessions/session-state.js';
import { loadStats } from '../../projections/stats/stats.queries.js';
import { ClickHouseError, type ClickHouseGateway } from '../../projections/store/clickhouse-gateway.js';
import { PROJECTIONS } from '../../projections/store/generations.js';
import { projectionKeys } from '../../projections/store/redis-keys.js';
import { tableNames } from '../../projections/store/table-set.js';
import { decodeEvent } from '../../schemas/events/decode.js';
import { sessionEventExamples } from '../../schemas/events/examples.js';
import { DeadLetterHeaders } from '../../schemas/events/topics.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { liveProjector } from '../../services/generation-follower.js';
import type { ProjectorWorker } from '../../services/projector-worker.js';
import { malformedMessages } from '../../services/simulator/malformed.js';
import { createRng } from '../../services/simulator/rng.js';
import { expectedTotals } from '../../services/simulator/totals.js';
import { createTrafficGenerator, toMessage } from '../../services/simulator/traffic.js';
import { eventually } from '../support/poll.js';
import { startStack, type TestStack } from '../support/stack.js';

const tables = tableNames(1);
let stack: TestStack;
let worker: ProjectorWorker;

function traffic(seed: number, integrationIds: string[], sessions: number): SessionEvent[] {
  const generator = createTrafficGenerator({ seed, integrationIds, startAt: new Date(Date.now() - 3_600_000) });
  return Array.from({ length: sessions }, () => generator.nextSession()).flat();
}

async function clickhouseCounts(integrationId: string) {
  const [row] = await stack.clickhouse.query<{ sessions: number; events: number; items: number }>(
    `SELECT
       (SELECT toUInt32(count()) FROM ${tables.sessions} FINAL WHERE integration_id = {i:String}) AS sessions,
       (SELECT toUInt32(uniqExact(event_id)) FROM ${tables.session_events} WHERE integration_id = {i:String}) AS events,
       (SELECT toUInt32(sum(length(item_kind))) FROM ${tables.session_events} FINAL WHERE integration_id = {i:String}) AS items`,
    { i: integrationId },
  );
  return row!;
}

/** A metric's samples from the stack's registry, summed by one label (`sample` picks e.g. a histogram's `_count`). */
async function metricByLabel(name: string, label: string, sample?: string): Promise<Record<string, number>> {
  const metric = stack.registry.getSingleMetric(name);
  const values = metric ? (await metric.get()).values : [];
  const out: Record<string, number> = {};
  for (const v of values) {
    if (sample !== undefined && !('metricName' in v && v.metricName === sample)) continue;
    const key = String(v.labels[label]);
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

/** Every sample of a counter, summed over its labels. */
async function metricTotal(name: string): Promise<number> {
  const metric = stack.registry.getSingleMetric(name);
  return metric ? (await metric.get()).values.reduce((sum, v) => sum + v.value, 0) : 0;
}

/** Events of an integration in the hourly aggregate, which sums timeline inserts: a duplicate inserted again shows here. */
async function hourlyEvents(integrationId: string): Promise<number> {
  const [row] = await stack.clickhouse.query<{ events: number }>(
    `SELECT toUInt32(sum(events)) AS events FROM ${tables.events_hourly} WHERE integration_id = {i:String}`,
    { i: integrationId },
  );
  return Number(row?.events ?? 0);
}

/** A session's state as each store holds it, null where a store lacks it: the ClickHouse row and the Redis document. */
async function storedStates(integrationId: string, sessionId: string): Promise<{ clickhouse: SessionState | null; redis: SessionState | null }> {
  const [row] = await stack.clickhouse.query<{ state: string }>(
    `SELECT state FROM ${tables.sessions} FINAL WHERE integration_id = {i:String} AND session_id = {s:String}`,
    { i: integrationId, s: sessionId },
  );
  const doc = await stack.redis.hget(projectionKeys(stack.config.redis.keyPrefix, 1).session(integrationId, sessionId), 'state');
  return { clickhouse: row ? parseState(row.state) : null, redis: doc === null ? null : parseState(doc) };
}

/** What both stores must hold for a session: the fold of its events, in order. */
const fold = (events: readonly SessionEvent[]): SessionState => events.reduce<SessionState | null>((state, event) => evolveSession(state, event), null)!;

describe('projector through the real broker', () => {
  beforeAll(async () => {
    stack = await startStack({ name: 'projector' });
    worker = liveProjector(stack.config, { ...stack, now: Date.now }, { pollMs: 500 });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('projects simulator traffic with exact counts, duplicates counted once', async () => {
    const stageCounts = () => metricByLabel('projector_batch_stage_seconds', 'stage', 'projector_batch_stage_seconds_count');
    const stagesBefore = await stageCounts();
    const events = traffic(7, ['int_alpha', 'int_beta'], 60);
    const duplicates = events.filter((_, i) => i % 7 === 0);
    await stack.publish(events);
    await stack.publish(duplicates);
    const expected = expectedTotals(events);
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    await stack.drained();

    for (const [integrationId, totals] of Object.entries(expected.byIntegration)) {
      const eventCount = Object.values(totals.eventsByType).reduce((a, b) => a + b, 0);
      const stats = await eventually(() => loadStats(stack.redis, keys, integrationId), {
        until: (s) => s.events === eventCount && s.sessions === totals.sessions,
        what: `stats of ${integrationId}`,
      });
      expect(stats.sessionsByStatus).toEqual(totals.latestStatus);
      expect(stats.identifiedSessions).toBe(totals.identifiedSessions);
      expect(stats.endedSessions).toBe(totals.endedSessions);
      expect(stats.eventsByType).toEqual(Object.fromEntries(Object.entries(totals.eventsByType).filter(([, n]) => n > 0)));
      const counts = await eventually(() => clickhouseCounts(integrationId), { until: (c) => c.sessions === totals.sessions, what: 'clickhouse' });
      expect(counts.events).toBe(eventCount);
    }

    // Each step of those batches was timed: what an operator reads to see what bounds a slow flush.
    const stagesAfter = await stageCounts();
    const timed = (stage: string): number => (stagesAfter[stage] ?? 0) - (stagesBefore[stage] ?? 0);
    for (const stage of ['decode', 'read', 'fold', 'state_rows', 'timeline', 'redis']) expect(timed(stage), stage).toBeGreaterThan(0);
    // Nothing in this traffic was malformed, so no batch of it had a dead-letter step.
    expect(timed('dead_letters')).toBe(0);
  });

  it('answers the seen check of sessions it created from memory, and still counts a later duplicate publish once', async () => {
    const projectedTotal = () => metricTotal('projector_events_projected_total');
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    const forgotten = () => metricTotal('projector_memo_forgotten_total');
    const all: SessionEvent[] = [];
    const projectedAtStart = await projectedTotal();
    // The Redis counters reach a count just before the worker records the batch's metrics: wait for its own count
    // of projected events too, so the seen metrics read next are the finished batch's.
    const statsReach = async (events: number): Promise<void> => {
      await eventually(() => loadStats(stack.redis, keys, 'int_memo'), { until: (s) => s.events === events, what: `${events} events of int_memo` });
      await eventually(projectedTotal, { until: (n) => n >= projectedAtStart + events, what: `${events} events of int_memo projected` });
    };
    let seenAfter: Record<string, number> = {};
    // A rebalance between the two halves (a missed heartbeat on a loaded machine) rightly drops the memo and sends the
    // sessions to the lookup: such a round proves nothing, and the next one uses new sessions.
    for (let round = 0; ; round++) {
      expect(round, 'every round saw the memo forgotten: the group kept rebalancing').toBeLessThan(3);
      const generator = createTrafficGenerator({ seed: 53 + round, integrationIds: ['int_memo'], startAt: new Date(Date.now() - 3_600_000) });
      const sessions = Array.from({ length: 20 }, () => generator.nextSession()).filter((events) => events.length >= 4);
      const firstHalves = sessions.flatMap((events) => events.slice(0, Math.ceil(events.length / 2)));
      const secondHalves = sessions.flatMap((events) => events.slice(Math.ceil(events.length / 2)));
      await stack.publish(firstHalves);
      all.push(...firstHalves);
      await statsReach(all.length);
      const forgottenBefore = await forgotten();
      const seenBefore = await metricByLabel('projector_seen_sessions_total', 'source');
      // The worker created these sessions: the batches of their later events ask ClickHouse nothing about them.
      await stack.publish(secondHalves);
      all.push(...secondHalves);
      await statsReach(all.length);
      const fromMemo = (seen: Record<string, number>): number => (seen['memo'] ?? 0) - (seenBefore['memo'] ?? 0);
      seenAfter = await metricByLabel('projector_seen_sessions_total', 'source');
      if ((await forgotten()) !== forgottenBefore) continue;
      expect(fromMemo(seenAfter)).toBeGreaterThanOrEqual(sessions.length);
      expect((seenAfter['clickhouse'] ?? 0) - (seenBefore['clickhouse'] ?? 0)).toBe(0);
      break;
    }

    // A duplicate publish of events the memo holds sends their sessions back to the lookup: counted once.
    const duplicates = all.filter((_, i) => i % 3 === 0);
    const projectedBefore = await projectedTotal();
    await stack.publish(duplicates);
    await eventually(projectedTotal, { until: (n) => n >= projectedBefore + duplicates.length, what: 'duplicates projected' });
    const seenLast = await metricByLabel('projector_seen_sessions_total', 'source');
    expect((seenLast['clickhouse'] ?? 0) - (seenAfter['clickhouse'] ?? 0)).toBeGreaterThan(0);
    expect((await loadStats(stack.redis, keys, 'int_memo')).events).toBe(all.length);
    expect(await hourlyEvents('int_memo')).toBe(all.length);
    expect((await clickhouseCounts('int_memo')).events).toBe(all.length);
  });

  it('gives a session whose timeline grew a new rev even when its state did not change, and looks up a session another writer touched', async () => {
    const seenBy = () => metricByLabel('projector_seen_sessions_total', 'source');
    const generator = createTrafficGenerator({ seed: 59, integrationIds: ['int_rev'], startAt: new Date(Date.now() - 3_600_000) });
    const session = Array.from({ length: 10 }, () => generator.nextSession()).find((events) => events.filter((e) => e.type === 'session.activity').length >= 2)!;
    const sessionId = session[0]!.sessionId;
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    const docKey = keys.session('int_rev', sessionId);
    // Redis shows a batch's counts while its timeline insert may still run: the batch's metrics come once both landed.
    const statsReach = async (events: number): Promise<void> => {
      await eventually(() => loadStats(stack.redis, keys, 'int_rev'), { until: (st) => st.events === events, what: `${events} events of int_rev` });
      await stack.drained();
    };
    await stack.publish(session);
    await statsReach(session.length);
    const [revBefore, stateBefore] = await stack.redis.hmget(docKey, 'rev', 'state');

    // A late copy of an activity batch under a new event id, inside the session's span, on pages it already
    // visited: a new timeline row, the same state.
    const activity = session.find((e) => e.type === 'session.activity')!;
    const late = { ...activity, eventId: `${activity.eventId}-late`, occurredAt: session[0]!.occurredAt };
    await stack.publish([late]);
    await statsReach(session.length + 1);
    const [revAfter, stateAfter] = await stack.redis.hmget(docKey, 'rev', 'state');
    expect(stateAfter).toBe(stateBefore);
    expect(revAfter).not.toBe(revBefore);

    // Another writer (here, by hand) moves the document: the worker's memo of the session no longer counts.
    await stack.redis.hset(docKey, 'rev', 'another-writer');
    const before = await seenBy();
    const next = { ...activity, eventId: `${activity.eventId}-next` };
    await stack.publish([next]);
    await statsReach(session.length + 2);
    const after = await seenBy();
    expect((after['clickhouse'] ?? 0) - (before['clickhouse'] ?? 0)).toBe(1);
    expect(await hourlyEvents('int_rev')).toBe(session.length + 2);
  });

  it('a batch that failed after part of its writes landed is retried to exact counts, by its worker or a fresh one', async () => {
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    const config = { tables, keys, writes: new Set(PROJECTIONS) };
    const cases = [
      { integrationId: 'int_part_tl_same', fails: 'timeline', retry: 'same' },
      { integrationId: 'int_part_tl_fresh', fails: 'timeline', retry: 'fresh' },
      { integrationId: 'int_part_rd_same', fails: 'redis', retry: 'same' },
      { integrationId: 'int_part_rd_fresh', fails: 'redis', retry: 'fresh' },
    ] as const;
    for (const [i, { integrationId, fails, retry }] of cases.entries()) {
      const events = traffic(9100 + i, [integrationId], 25);
      const unique = new Set(events.map((e) => e.eventId)).size;
      const sessions = new Set(events.map((e) => e.sessionId)).size;
      const messages: SourceMessage[] = events.map((event, offset) => {
        const m = toMessage(event);
        return { topic: m.topic, partition: 0, offset: String(offset), key: Buffer.from(m.key), value: Buffer.from(m.value) };
      });
      // One write is refused once: the timeline insert or the Redis script (the state rows and the other one
      // land). The same worker retries with its memo, a fresh one without.
      let refuse = true;
      const clickhouse: ClickHouseGateway = {
        driver: stack.clickhouse.driver,
        query: (sql, params) => stack.clickhouse.query(sql, params),
        insert: (table, rows) => stack.clickhouse.insert(table, rows),
        insertValues: async (table, rows) => {
          if (fails === 'timeline' && table === tables.session_events && refuse) {
            refuse = false;
            throw new ClickHouseError('injected: timeline insert refused', { retriable: true });
          }
          return stack.clickhouse.insertValues(table, rows);
        },
        command: (sql, params) => stack.clickhouse.command(sql, params),
        ping: () => stack.clickhouse.ping(),
        close: async () => undefined,
      };
      const redis = new Proxy(stack.redis, {
        get(target, property) {
          if (fails === 'redis' && property === 'applyIntegrationBatch' && refuse) {
            refuse = false;
            return async () => {
              throw new Error('injected: redis script refused');
            };
          }
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const deps = { publishDeadLetters: async () => undefined, now: Date.now };
      const worker = createBatchProjector(config, { ...deps, clickhouse, redis, timelineMemo: new TimelineMemo(1_000) });
      await expect(worker(messages)).rejects.toThrow(SinkError);
      // The fault really fell between the sinks: the state rows and exactly one of the timeline and Redis landed.
      expect(await clickhouseCounts(integrationId)).toMatchObject({ sessions, events: fails === 'timeline' ? 0 : unique });
      expect((await loadStats(stack.redis, keys, integrationId)).events).toBe(fails === 'redis' ? 0 : unique);

      const again = retry === 'same' ? worker : createBatchProjector(config, { ...deps, clickhouse: stack.clickhouse, redis: stack.redis, timelineMemo: new TimelineMemo(1_000) });
      await again(messages);
      const stats = await loadStats(stack.redis, keys, integrationId);
      expect(stats.events, `${fails} refused, ${retry} retry`).toBe(unique);
      expect(stats.sessions).toBe(sessions);
      expect(await clickhouseCounts(integrationId)).toMatchObject({ sessions, events: unique });
      expect(await hourlyEvents(integrationId), `${fails} refused, ${retry} retry`).toBe(unique);
      // Every Redis document holds the fold of its session's events.
      const folded = new Map<string, SessionState>();
      for (const e of events) folded.set(e.sessionId, evolveSession(folded.get(e.sessionId) ?? null, e));
      for (const [sessionId, state] of folded) expect(parseState((await stack.redis.hget(keys.session(integrationId, sessionId), 'state'))!)).toEqual(state);
    }
  });

  it('after Redis lost session documents, later events fold onto the state ClickHouse holds', async () => {
    const generator = createTrafficGenerator({ seed: 31, integrationIds: ['int_delta'], startAt: new Date(Date.now() - 3_600_000) });
    const sessions = Array.from({ length: 12 }, () => generator.nextSession()).filter((events) => events.length >= 4);
    const halves = sessions.map((events) => [events.slice(0, Math.ceil(events.length / 2)), events.slice(Math.ceil(events.length / 2))] as const);
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    const stateIn = (sessionId: string) => storedStates('int_delta', sessionId);

    await stack.publish(halves.flatMap(([first]) => first));
    for (const [first] of halves) {
      await eventually(() => stateIn(first[0]!.sessionId), { until: (s) => s.redis !== null && s.clickhouse !== null, what: 'first halves projected' });
    }
    // Redis loses the documents (a restart without persistence, say); ClickHouse still has every state.
    await stack.redis.del(...halves.map(([first]) => keys.session('int_delta', first[0]!.sessionId)));

    await stack.publish(halves.flatMap(([, second]) => second));
    for (const [first, second] of halves) {
      const expected = fold([...first, ...second]);
      const found = await eventually(() => stateIn(expected.sessionId), {
        until: (s) => s.redis !== null && s.redis.updatedAt === expected.updatedAt,
        what: `second half of ${expected.sessionId} projected`,
      });
      expect(found.redis).toEqual(expected);
      expect(found.clickhouse).toEqual(expected);
    }
  });

  it('keeps sessions of two integrations apart when they share a session id and event ids', async () => {
    const generator = createTrafficGenerator({ seed: 41, integrationIds: ['int_eps'], startAt: new Date(Date.now() - 3_600_000) });
    const original = Array.from({ length: 6 }, () => generator.nextSession()).flat();
    // The same session ids and event ids under a second integration, with later halves left out there.
    const twin = original.filter((_, i) => i % 2 === 0).map((event) => ({ ...event, integrationId: 'int_zeta' }));
    await stack.publish([...original, ...twin]);
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    await stack.drained();
    for (const [integrationId, events] of [['int_eps', original], ['int_zeta', twin]] as const) {
      expect((await loadStats(stack.redis, keys, integrationId)).events, `events of ${integrationId}`).toBe(events.length);
      const bySession = new Map<string, SessionEvent[]>();
      for (const event of events) bySession.set(event.sessionId, [...(bySession.get(event.sessionId) ?? []), event]);
      for (const [sessionId, sessionEvents] of bySession) {
        expect((await storedStates(integrationId, sessionId)).clickhouse).toEqual(fold(sessionEvents));
      }
      const counts = await clickhouseCounts(integrationId);
      expect(counts.events).toBe(events.length);
    }
  });

  it('projects a session written at the edges of the contract exactly: every time form, escapes, non-ASCII, the longest ids and attributes', async () => {
    const integrationId = 'int_edge';
    const sessionId = `ses.edge_:-${'x'.repeat(128 - 'ses.edge_:-'.length)}`;
    const base = Date.now() - 3_600_000;
    /** The instant base + ms, written in one of the forms the contract takes. */
    const at = (ms: number, form: 'canonical' | 'offset' | 'compact' | 'minutes' | 'nanos'): string => {
      const iso = (shiftMs: number) => new Date(base + ms + shiftMs).toISOString();
      switch (form) {
        case 'canonical': return iso(0);
        case 'offset': return `${iso(-(23 * 60 + 59) * 60_000).slice(0, 23)}-23:59`;
        case 'compact': return `${iso(5.5 * 3_600_000).slice(0, 19)}+0530`;
        case 'minutes': return `${iso(0).slice(0, 16)}Z`;
        case 'nanos': return `${iso(0).slice(0, 23)}456789Z`;
      }
    };
    const text = `"quoted" \\ back\\slash\nnew line \u0000 nul, ü, 😀 ${'ł'.repeat(200)}`.slice(0, 256);
    const widest = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`${String(i).padStart(2, '0')}${'k'.repeat(62)}`, i % 3 === 0 ? text : i % 3 === 1 ? -1.5e-300 : true]));
    const [started, viewed, activity, scored, identified, ended] = sessionEventExamples.map((e, i) => ({
      ...e,
      integrationId,
      sessionId,
      eventId: `evt.edge:${i}-${'e'.repeat(100)}`,
    })) as SessionEvent[];
    const events = [
      { ...started!, occurredAt: at(0, 'compact'), data: { pageUrl: 'https://acme.instructure.com/courses/48213/p%C3%A4ge?q=%F0%9F%98%80', userAgentSummary: text } },
      { ...viewed!, occurredAt: at(60_000, 'minutes'), data: { pageUrl: 'HTTPS://ACME.instructure.com/courses/48213/quizzes/991', title: text } },
      {
        ...activity!,
        occurredAt: at(90_000, 'nanos'),
        data: {
          activities: [
            { kind: 'click', at: at(61_000, 'offset'), attributes: widest },
            { kind: 'paste', at: at(62_000, 'compact'), attributes: {} },
            { kind: 'keypress', at: at(63_000, 'nanos') },
          ],
        },
      },
      { ...scored!, occurredAt: at(91_000, 'canonical'), data: { botScore: 0, status: 'human', detectionFlags: [], modelVersion: 'nai-ü-😀-"q"' } },
      { ...identified!, occurredAt: at(92_000, 'offset'), data: { userId: 'lms:user.1', userName: text, userUrl: 'https://acme.instructure.com/users/%E2%9C%93' } },
      { ...ended!, occurredAt: at(300_000, 'minutes'), data: { reason: 'timeout' } },
    ] as SessionEvent[];
    // The emoji as an escaped surrogate pair in the wire text, which the decoder walks and must let through.
    const values = events.map((event) => JSON.stringify(event).replaceAll('😀', '\\ud83d\\ude00'));
    const decoded = values.map((value) => decodeEvent(value, { now: Date.now, key: sessionId }));
    expect(decoded.map((d) => (d.ok ? 'ok' : `${d.reason} ${d.detail}`))).toEqual(values.map(() => 'ok'));
    await stack.publishRaw(stack.config.kafka.topics.sessions, values.map((value) => ({ key: sessionId, value })));

    const expected = fold(events);
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    await eventually(() => loadStats(stack.redis, keys, integrationId), { until: (s) => s.events === events.length, what: 'edge events projected' });
    expect(await storedStates(integrationId, sessionId)).toEqual({ clickhouse: expected, redis: expected });
    const timeline = await stack.clickhouse.query<{ at: number[]; attributes: string[] }>(
      `SELECT arrayMap(t -> toUnixTimestamp64Milli(t), item_at) AS at, item_attributes AS attributes
       FROM ${tables.session_events} WHERE integration_id = {i:String} AND session_id = {s:String} ORDER BY event_at, event_id`,
      { i: integrationId, s: sessionId },
    );
    const items = events.flatMap((event) =>
      event.type === 'session.activity' ? [event.data.activities.map((a) => Date.parse(a.at))] : [[Date.parse(event.occurredAt)]],
    );
    expect(timeline.map((r) => r.at).sort((a, b) => a[0]! - b[0]!)).toEqual(items.sort((a, b) => a[0]! - b[0]!));
    expect(timeline.flatMap((r) => r.attributes)).toContain(JSON.stringify(widest));
  });

  it('dead-letters every malformed message with its reason and keeps projecting good ones', async () => {
    const rng = createRng(11);
    const good = traffic(21, ['int_gamma'], 20);
    const bad = Array.from({ length: 4 }, () => malformedMessages(rng, { integrationId: 'int_gamma', now: Date.now() })).flat();
    // Interleave: a bad message after every few good ones, all on the sessions topic.
    const messages: { key: string | null; value: string }[] = [];
    const step = Math.max(1, Math.floor(good.length / bad.length));
    good.forEach((event, i) => {
      messages.push({ key: event.sessionId, value: JSON.stringify(event) });
      const b = i % step === 0 ? bad[i / step] : undefined;
      if (b) messages.push({ key: b.key, value: b.value });
    });
    for (let i = 0; i < messages.length; i += 50) await stack.publishRaw(stack.config.kafka.topics.sessions, messages.slice(i, i + 50));

    const dead = await readDeadLetters(bad.length);
    expect(dead.map((d) => d.reason).sort()).toEqual(bad.map((b) => b.reason).sort());
    for (const d of dead) {
      expect(d.sourceTopic).toBe(stack.config.kafka.topics.sessions);
      expect(Number(d.sourceOffset)).toBeGreaterThanOrEqual(0);
      expect(d.detail.length).toBeGreaterThan(0);
    }
    const expected = expectedTotals(good).byIntegration.int_gamma!;
    const keys = projectionKeys(stack.config.redis.keyPrefix, 1);
    await eventually(() => loadStats(stack.redis, keys, 'int_gamma'), {
      until: (s) => s.sessions === expected.sessions && s.events === good.length,
      what: 'good events projected',
    });
  });
});

async function readDeadLetters(count: number) {
  const consumer = stack.kafka.consumer({ groupId: `dlq-reader-${Date.now()}` });
  const seen: { reason: string; detail: string; sourceTopic: string; sourceOffset: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: stack.config.kafka.topics.deadLetters, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const header = (name: string) => message.headers?.[name]?.toString() ?? '';
      seen.push({
        reason: header(DeadLetterHeaders.reason),
        detail: header(DeadLetterHeaders.detail),
        sourceTopic: header(DeadLetterHeaders.sourceTopic),
        sourceOffset: header(DeadLetterHeaders.sourceOffset),
      });
    },
  });
  try {
    await eventually(() => seen.length, { until: (n) => n >= count, what: `${count} dead letters`, timeoutMs: 60_000 });
    return seen;
  } finally {
    await consumer.disconnect();
  }
}
