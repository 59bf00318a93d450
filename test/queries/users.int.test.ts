import { createFixtureProjector, eventBuilders, startRouteHarness, untouchable } from '../support/query-fixture.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userRoutes } from '../../api/routers/users.router.js';
import { toSessionResource, type ReadModel } from '../../projections/sessions/sessions.queries.js';
import type { TableNames } from '../../projections/store/table-set.js';
import { listUserSessions, listUsers, userFromRow } from '../../projections/users/users.queries.js';
import { createEmbeddedGateway } from '../../services/clickhouse/embedded-driver.js';
import { migrate } from '../../services/clickhouse/migrations.js';

const ev = eventBuilders();

// --- the scenario ---
const A = 'int_acme';
const B = 'int_globex';
const COURSE = 'https://acme.instructure.com/courses/101/quizzes/7';
const dir = await mkdtemp(join(tmpdir(), 'notai-users-'));
const clickhouse = createEmbeddedGateway({ path: dir });
let tables: TableNames;
let fixture: ReturnType<typeof createFixtureProjector>;
let model: ReadModel;
let harness: Awaited<ReturnType<typeof startRouteHarness>>;

beforeAll(async () => {
  tables = await migrate(clickhouse, 1, pino({ level: 'silent' }));
  fixture = createFixtureProjector(clickhouse, tables);
  const { project } = fixture;
  await project([
    ev.started(A, 's1', '2026-10-01T10:00:00.000Z', COURSE),
    ev.identified(A, 's1', '2026-10-01T10:00:05.000Z', 'u_ada', 'Ada Lovelace'),
    ev.scored(A, 's1', '2026-10-01T10:05:00.000Z', 'bot', ['paste_heavy', 'llm_agent_signature']),
    ev.started(A, 's2', '2026-10-05T09:00:00.000Z', COURSE),
    ev.identified(A, 's2', '2026-10-05T09:00:03.000Z', 'u_ada'),
    ev.scored(A, 's2', '2026-10-05T09:10:00.000Z', 'human'),
    ev.started(A, 's3', '2026-10-02T12:00:00.000Z', COURSE),
    ev.identified(A, 's3', '2026-10-02T12:00:01.000Z', 'u_bob', 'Bob'),
    ev.started(A, 's4', '2026-10-03T08:00:00.000Z', COURSE),
    ev.identified(A, 's4', '2026-10-03T08:00:01.000Z', 'u_dan', 'Dan'),
    ev.started(A, 's_anon', '2026-10-03T09:00:00.000Z', COURSE),
    // Two sessions of one user starting in the same millisecond: the cursor must still order them.
    ...['s5', 's6', 's7'].flatMap((s, i) => [
      ev.started(A, s, i < 2 ? '2026-10-07T07:00:00.000Z' : '2026-10-08T07:00:00.000Z', COURSE),
      ev.identified(A, s, '2026-10-08T07:30:00.000Z', 'u_ada'),
    ]),
    ...[1, 2, 3, 4, 5].flatMap((n) => [
      ev.started(A, `se${n}`, `2026-10-1${n}T10:00:00.000Z`, COURSE),
      ev.identified(A, `se${n}`, `2026-10-1${n}T10:00:01.000Z`, `u_e${n}`, `E ${n}`),
      ev.scored(A, `se${n}`, `2026-10-1${n}T10:20:00.000Z`, 'human'),
    ]),
    ev.started(B, 'sb1', '2026-10-01T10:00:00.000Z', COURSE),
    ev.identified(B, 'sb1', '2026-10-01T10:00:02.000Z', 'u_ada', 'Other Ada'),
    ev.scored(B, 'sb1', '2026-10-01T10:03:00.000Z', 'bot'),
  ]);
  await project([
    // s3 becomes suspicious, then is re-identified as someone else: u_bob keeps only a tombstone.
    ev.scored(A, 's3', '2026-10-02T12:30:00.000Z', 'suspicious', ['no_mouse_movement']),
    ev.identified(A, 's3', '2026-10-02T12:40:00.000Z', 'u_carol', 'Carol'),
  ]);
  // A late event moves s4's start earlier, and so its key in both tables.
  await project([ev.page(A, 's4', '2026-09-30T08:00:00.000Z', COURSE)]);

  model = { clickhouse, tables, redis: untouchable('redis'), keys: untouchable('redis keys') };
  harness = await startRouteHarness(userRoutes, () => model, A);
});

afterAll(async () => {
  await harness?.close();
  await clickhouse.close();
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, integration = A) => harness.get(path, integration);
const walk = (path: string, integration = A) => harness.walk(path, integration);

describe('users list', () => {
  it('lists each identified user once, in user id order, with exact counts; re-identified and anonymous sessions do not leak', async () => {
    const rows = await listUsers(model, A, {}, null, 100);
    expect(rows.map((r) => r.user_id)).toEqual(['u_ada', 'u_carol', 'u_dan', 'u_e1', 'u_e2', 'u_e3', 'u_e4', 'u_e5']);
    const ada = userFromRow(rows[0]!);
    expect(ada).toEqual({
      id: 'u_ada',
      name: 'Ada Lovelace',
      url: 'https://acme.instructure.com/users/u_ada',
      sessionCount: 5,
      flaggedSessionCount: 1,
      firstSeenAt: '2026-10-01T10:00:00.000Z',
      lastSeenAt: '2026-10-08T07:30:00.000Z',
    });
    expect(userFromRow(rows[1]!)).toMatchObject({ id: 'u_carol', name: 'Carol', sessionCount: 1, flaggedSessionCount: 1 });
    expect(userFromRow(rows[2]!)).toMatchObject({ id: 'u_dan', sessionCount: 1, firstSeenAt: '2026-09-30T08:00:00.000Z', lastSeenAt: '2026-10-03T08:00:01.000Z' });
  });

  it('keeps tenants apart: the same user id in another integration is another user', async () => {
    const rows = await listUsers(model, B, {}, null, 100);
    expect(rows.map(userFromRow)).toEqual([
      expect.objectContaining({ id: 'u_ada', name: 'Other Ada', sessionCount: 1, flaggedSessionCount: 1 }),
    ]);
  });

  it('filters by flagged and by last seen without changing the counts', async () => {
    expect((await listUsers(model, A, { flagged: true }, null, 100)).map((r) => r.user_id)).toEqual(['u_ada', 'u_carol']);
    expect((await listUsers(model, A, { flagged: false }, null, 100)).map((r) => r.user_id)).toEqual(['u_dan', 'u_e1', 'u_e2', 'u_e3', 'u_e4', 'u_e5']);
    const recent = await listUsers(model, A, { since: new Date('2026-10-08T00:00:00Z'), until: new Date('2026-10-14T00:00:00Z') }, null, 100);
    expect(recent.map((r) => [r.user_id, r.session_count])).toEqual([['u_ada', 5], ['u_e1', 1], ['u_e2', 1], ['u_e3', 1]]);
  });

  it('pages through every user with signed cursors, no duplicates, no gaps', async () => {
    const { pages, items } = await walk('/v1/users?limit=3');
    expect(pages).toBe(3);
    expect(items.map((u) => u.id)).toEqual(['u_ada', 'u_carol', 'u_dan', 'u_e1', 'u_e2', 'u_e3', 'u_e4', 'u_e5']);
    const flagged = await walk('/v1/users?limit=1&flagged=true');
    expect(flagged.items.map((u) => u.id)).toEqual(['u_ada', 'u_carol']);
  });

  it('refuses a cursor made for other filters or another integration, and unknown parameters', async () => {
    const first = await get('/v1/users?limit=2');
    const cursor = encodeURIComponent(first.body.pagination.nextCursor!);
    expect((await get(`/v1/users?limit=2&flagged=true&cursor=${cursor}`)).body.error?.code).toBe('invalid_cursor');
    expect((await get(`/v1/users?limit=2&cursor=${cursor}`, B)).body.error?.code).toBe('invalid_cursor');
    const unknown = await get('/v1/users?sort=name');
    expect([unknown.status, unknown.body.error?.code, unknown.body.error?.details.parameter]).toEqual([400, 'unknown_parameter', 'sort']);
    expect((await get('/v1/users?flagged=yes')).body.error?.code).toBe('invalid_parameter');
  });
});

describe("a user's sessions", () => {
  it('are the full Session resources, newest first, ties broken by session id', async () => {
    const entries = await listUserSessions(model, A, 'u_ada', null, 10);
    expect(entries.map((e) => e.session_id)).toEqual(['s7', 's6', 's5', 's2', 's1']);
    const { items } = await walk('/v1/users/u_ada/sessions');
    expect(items).toEqual(['s7', 's6', 's5', 's2', 's1'].map((s) => toSessionResource(fixture.state(A, s))));
    expect(items[4]).toMatchObject({ status: 'bot', detectionFlags: ['llm_agent_signature', 'paste_heavy'], pageUrl: COURSE, userAgentSummary: 'Chrome 131 on Windows 11' });
  });

  it('page with cursors across equal timestamps without duplicates or gaps', async () => {
    const { pages, items } = await walk('/v1/users/u_ada/sessions?limit=2');
    expect(pages).toBe(3);
    expect(items.map((s) => s.id)).toEqual(['s7', 's6', 's5', 's2', 's1']);
  });

  it('follow re-identification and moved start times (tombstones are gone)', async () => {
    expect((await walk('/v1/users/u_carol/sessions')).items).toEqual([toSessionResource(fixture.state(A, 's3'))]);
    const dan = (await walk('/v1/users/u_dan/sessions')).items;
    expect(dan.map((s) => [s.id, s.createdAt])).toEqual([['s4', '2026-09-30T08:00:00.000Z']]);
  });

  it('answer 404 for a user without sessions, and never show another integration\'s', async () => {
    const bob = await get('/v1/users/u_bob/sessions');
    expect([bob.status, bob.body.error?.code]).toEqual([404, 'not_found']);
    expect((await get('/v1/users/u_e1/sessions', B)).status).toBe(404);
    expect((await walk('/v1/users/u_ada/sessions', B)).items.map((s) => s.id)).toEqual(['sb1']);
    expect((await get('/v1/users/bad%20id/sessions')).body.error?.code).toBe('invalid_parameter');
    const first = await get('/v1/users/u_ada/sessions?limit=1');
    const cursor = encodeURIComponent(first.body.pagination.nextCursor!);
    expect((await get(`/v1/users/u_e1/sessions?cursor=${cursor}`)).body.error?.code).toBe('invalid_cursor');
  });
});
