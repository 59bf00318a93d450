import { createFixtureProjector, eventBuilders, startRouteHarness, untouchable } from '../support/query-fixture.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsRoutes } from '../../api/routers/analytics.router.js';
import { alignDown, analyticsReport, type Period } from '../../projections/analytics/analytics.queries.js';
import { sessionStatus } from '../../projections/sessions/session-state.js';
import type { ReadModel } from '../../projections/sessions/sessions.queries.js';
import type { Granularity } from '../../schemas/api/analytics.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { createEmbeddedGateway } from '../../services/clickhouse/embedded-driver.js';
import { migrate } from '../../services/clickhouse/migrations.js';

const ev = eventBuilders();

// --- the scenario: two weeks from Monday 2026-10-05, the two weeks before, and noise outside both ---
const A = 'int_acme';
const B = 'int_globex';
const PAGE = 'https://acme.instructure.com/courses/101/quizzes/7';
const NOW = Date.parse('2026-10-18T10:30:00.000Z');
const dir = await mkdtemp(join(tmpdir(), 'notai-analytics-'));
const clickhouse = createEmbeddedGateway({ path: dir });
const published: SessionEvent[] = [];
let fixture: ReturnType<typeof createFixtureProjector>;
let model: ReadModel;
let harness: Awaited<ReturnType<typeof startRouteHarness>>;

async function publish(batch: SessionEvent[]): Promise<void> {
  published.push(...batch);
  await fixture.project(batch);
}

beforeAll(async () => {
  const tables = await migrate(clickhouse, 1, pino({ level: 'silent' }));
  fixture = createFixtureProjector(clickhouse, tables);
  await publish([
    ev.started(A, 'a1', '2026-10-05T10:00:00.000Z', PAGE),
    ev.activity(A, 'a1', '2026-10-05T10:01:00.000Z', PAGE),
    ev.activity(A, 'a1', '2026-10-05T11:02:00.000Z', PAGE),
    ev.scored(A, 'a1', '2026-10-05T11:03:00.000Z', 'bot', ['paste_heavy', 'llm_agent_signature']),
    ev.identified(A, 'a1', '2026-10-05T11:04:00.000Z', 'u1', 'Ada'),
    ev.started(A, 'a2', '2026-10-05T23:30:00.000Z', PAGE),
    ev.scored(A, 'a2', '2026-10-05T23:59:59.999Z', 'human'),
    ev.started(A, 'a3', '2026-10-07T01:00:00.000Z', PAGE),
    ev.scored(A, 'a3', '2026-10-07T01:10:00.000Z', 'suspicious', ['paste_heavy']),
    ev.started(A, 'a4', '2026-10-12T12:00:00.000Z', PAGE),
    ev.started(A, 'a5', '2026-10-13T09:00:00.000Z', PAGE),
    ev.scored(A, 'p1', '2026-09-22T08:00:00.000Z', 'human'),
    ev.started(A, 'p2', '2026-09-30T08:00:00.000Z', PAGE),
    ev.scored(A, 'p2', '2026-09-30T08:05:00.000Z', 'bot', ['webdriver']),
    ev.started(A, 'o1', '2026-08-01T08:00:00.000Z', PAGE),
    ev.started(B, 'b1', '2026-10-05T10:00:00.000Z', PAGE),
    ev.scored(B, 'b1', '2026-10-05T10:01:00.000Z', 'bot', ['webdriver']),
  ]);
  await publish([
    // a1 is re-scored (its old verdict must vanish); a5's start moves from the 13th to the 10th (its old row is tombstoned).
    ev.scored(A, 'a1', '2026-10-05T12:00:00.000Z', 'bot', ['paste_heavy']),
    ev.page(A, 'a5', '2026-10-10T09:00:00.000Z', PAGE),
  ]);
  model = { clickhouse, tables, redis: untouchable('redis'), keys: untouchable('redis keys') };
  harness = await startRouteHarness(analyticsRoutes, () => model, A, () => NOW);
});

afterAll(async () => {
  await harness?.close();
  await clickhouse.close();
  await rm(dir, { recursive: true, force: true });
});

interface Body {
  data: Record<string, unknown>;
  error?: { code: string; details: Record<string, unknown> };
}

const get = (path: string, integration = A) => harness.get<Body>(path, integration);

/** What the series must say, computed from the folded states and the published events rather than by SQL. */
function expectedSeries(integrationId: string, period: Period) {
  const buckets = new Map<number, { sessions: number; flagged: number; events: number; activities: number }>();
  for (let t = period.since; t < period.until; t += step(period.granularity)) {
    buckets.set(t, { sessions: 0, flagged: 0, events: 0, activities: 0 });
  }
  for (const state of fixture.states.values()) {
    const b = state.integrationId === integrationId ? buckets.get(alignDown(Date.parse(state.createdAt), period.granularity)) : undefined;
    if (b) (b.sessions += 1), (b.flagged += ['bot', 'suspicious'].includes(sessionStatus(state)) ? 1 : 0);
  }
  for (const event of published) {
    const at = event.occurredAt;
    const b = event.integrationId === integrationId ? buckets.get(alignDown(Date.parse(at), period.granularity)) : undefined;
    if (b) (b.events += 1), (b.activities += event.type === 'session.activity' ? event.data.activities.length : 0);
  }
  return [...buckets].map(([t, b]) => ({ bucket: new Date(t).toISOString(), ...b }));
}
const step = (g: Granularity): number => ({ hour: 3_600_000, day: 86_400_000, week: 604_800_000 })[g];
const range = (since: string, until: string, granularity: Granularity): Period => ({ since: Date.parse(since), until: Date.parse(until), granularity });

describe('analytics over the real engine', () => {
  it('gives every day of the period, zero-filled, with exact sessions and events; the summary totals them', async () => {
    const p = range('2026-10-05T00:00:00Z', '2026-10-19T00:00:00Z', 'day');
    const a = await analyticsReport(model, A, p, null);
    expect(a.series.map((b) => ({ bucket: b.bucket, sessions: b.sessions, flagged: b.flaggedSessions, events: b.events, activities: b.activities }))).toEqual(expectedSeries(A, p));
    expect(a.series).toHaveLength(14);
    expect(a.series[0]).toMatchObject({ bucket: '2026-10-05T00:00:00.000Z', sessions: 2, byStatus: { unscored: 0, human: 1, suspicious: 0, bot: 1 }, events: 8, activities: 4 });
    // a5 moved from the 13th to the 10th: counted once, where it now starts.
    expect(a.series[5]).toMatchObject({ bucket: '2026-10-10T00:00:00.000Z', sessions: 1, byStatus: { unscored: 1 } });
    expect(a.series[8]).toMatchObject({ bucket: '2026-10-13T00:00:00.000Z', sessions: 0, events: 1 });
    expect(a.summary).toEqual({
      sessions: 5,
      byStatus: { unscored: 2, human: 1, suspicious: 1, bot: 1 },
      flaggedSessions: 2,
      botRate: 0.2,
      events: 13,
      activities: 4,
      // The re-score dropped llm_agent_signature from a1.
      topFlags: [{ flag: 'paste_heavy', sessions: 2 }],
      trend: {
        previousPeriod: { since: '2026-09-21T00:00:00.000Z', until: '2026-10-05T00:00:00.000Z' },
        sessions: 2,
        flaggedSessions: 1,
        events: 3,
        sessionsChangePct: 150,
        flaggedSessionsChangePct: 100,
        eventsChangePct: 333.3,
      },
    });
    expect(a.series.reduce((n, b) => n + b.events, 0)).toBe(a.summary.events);
  });

  it('gives hours and Monday-based weeks the same way', async () => {
    const hours = range('2026-10-05T00:00:00Z', '2026-10-06T00:00:00Z', 'hour');
    const h = await analyticsReport(model, A, hours, null);
    expect(h.series).toHaveLength(24);
    expect(h.series.map((b) => ({ bucket: b.bucket, sessions: b.sessions, flagged: b.flaggedSessions, events: b.events, activities: b.activities }))).toEqual(expectedSeries(A, hours));
    expect(h.series.filter((b) => b.events > 0).map((b) => [b.bucket.slice(11, 13), b.events])).toEqual([['10', 2], ['11', 3], ['12', 1], ['23', 2]]);
    const weeks = range('2026-10-05T00:00:00Z', '2026-10-19T00:00:00Z', 'week');
    const w = await analyticsReport(model, A, weeks, null);
    expect(w.series.map((b) => [b.bucket, b.sessions, b.events])).toEqual([['2026-10-05T00:00:00.000Z', 4, 11], ['2026-10-12T00:00:00.000Z', 1, 2]]);
    expect(w.series.map((b) => ({ bucket: b.bucket, sessions: b.sessions, flagged: b.flaggedSessions, events: b.events, activities: b.activities }))).toEqual(expectedSeries(A, weeks));
  });

  it('breaks down by flag and by event type', async () => {
    const p = range('2026-10-05T00:00:00Z', '2026-10-08T00:00:00Z', 'day');
    const flags = await analyticsReport(model, A, p, 'flag');
    expect(flags.series.map((b) => b.byFlag)).toEqual([{ paste_heavy: 1 }, { paste_heavy: 0 }, { paste_heavy: 1 }]);
    const types = await analyticsReport(model, A, p, 'eventType');
    expect(types.series[0]!.byEventType).toEqual({
      'session.started': 2,
      'session.page_viewed': 0,
      'session.activity': 2,
      'session.scored': 3,
      'session.identified': 1,
      'session.ended': 0,
    });
    expect(types.series[1]!.byEventType!['session.started']).toBe(0);
  });

  it('never mixes integrations', async () => {
    const b = await analyticsReport(model, B, range('2026-10-05T00:00:00Z', '2026-10-19T00:00:00Z', 'day'), 'flag');
    expect(b.summary).toMatchObject({ sessions: 1, byStatus: { bot: 1 }, events: 2, topFlags: [{ flag: 'webdriver', sessions: 1 }], trend: { sessions: 0, sessionsChangePct: null } });
    expect((await analyticsReport(model, 'int_nobody', range('2026-10-05T00:00:00Z', '2026-10-19T00:00:00Z', 'week'), null)).summary.sessions).toBe(0);
  });
});

describe('GET /v1/analytics', () => {
  it('defaults to the last 30 days ending now, by day', async () => {
    const { status, body } = await get('/v1/analytics');
    expect(status).toBe(200);
    expect(body.data).toMatchObject({ period: { since: '2026-09-19T00:00:00.000Z', until: '2026-10-19T00:00:00.000Z' }, granularity: 'day', breakdown: null });
    expect((body.data.series as unknown[]).length).toBe(30);
    expect(body.data.summary).toMatchObject({ sessions: 7, flaggedSessions: 3, events: 16 });
  });

  it('widens since and until to bucket boundaries and echoes them', async () => {
    const { body } = await get('/v1/analytics?since=2026-10-07T15:00:00Z&until=2026-10-18&granularity=week&breakdown=status');
    expect(body.data).toMatchObject({ period: { since: '2026-10-05T00:00:00.000Z', until: '2026-10-19T00:00:00.000Z' }, granularity: 'week', breakdown: 'status' });
  });

  it('answers 400 naming the parameter', async () => {
    const cases: [string, string, string][] = [
      ['/v1/analytics?since=2026-01-01&until=2026-12-31&granularity=hour', 'invalid_parameter', 'since'],
      ['/v1/analytics?granularity=minute', 'invalid_parameter', 'granularity'],
      ['/v1/analytics?breakdown=course', 'invalid_parameter', 'breakdown'],
      ['/v1/analytics?since=2026-10-10&until=2026-10-01', 'invalid_parameter', 'since'],
      ['/v1/analytics?since=yesterday', 'invalid_parameter', 'since'],
      ['/v1/analytics?tz=Europe/Paris', 'unknown_parameter', 'tz'],
    ];
    for (const [path, code, parameter] of cases) {
      const { status, body } = await get(path);
      expect([path, status, body.error?.code, body.error?.details.parameter]).toEqual([path, 400, code, parameter]);
    }
  });
});
