import { createFixtureProjector, eventBuilders, startRouteHarness, untouchable } from '../support/query-fixture.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { courseRoutes } from '../../api/routers/courses.router.js';
import { courseKey } from '../../projections/courses/course-url.js';
import { courseFromRow, listCourses } from '../../projections/courses/courses.queries.js';
import type { ReadModel } from '../../projections/sessions/sessions.queries.js';
import { createEmbeddedGateway } from '../../services/clickhouse/embedded-driver.js';
import { migrate } from '../../services/clickhouse/migrations.js';

const ev = eventBuilders();

// --- the scenario ---
const A = 'int_acme';
const B = 'int_globex';
const CANVAS_101 = 'https://acme.instructure.com/courses/101/quizzes/7';
const CANVAS_202 = 'https://acme.instructure.com/courses/202/pages/week-1';
const MOODLE_42 = 'https://moodle.school.org/course/view.php?id=42';
const BB = 'https://learn.uni.ac.uk/ultra/courses/_123_1/outline';
const KEYS = {
  bb: courseKey('blackboard', 'learn.uni.ac.uk', '_123_1'),
  c101: courseKey('canvas', 'acme.instructure.com', '101'),
  c202: courseKey('canvas', 'acme.instructure.com', '202'),
  m42: courseKey('moodle', 'moodle.school.org', '42'),
};
const dir = await mkdtemp(join(tmpdir(), 'notai-courses-'));
const clickhouse = createEmbeddedGateway({ path: dir });
let model: ReadModel;
let harness: Awaited<ReturnType<typeof startRouteHarness>>;

beforeAll(async () => {
  const tables = await migrate(clickhouse, 1, pino({ level: 'silent' }));
  const { project } = createFixtureProjector(clickhouse, tables);
  await project([
    ev.started(A, 'k1', '2026-10-01T10:00:00.000Z', CANVAS_101),
    ev.identified(A, 'k1', '2026-10-01T10:00:01.000Z', 'u1', 'Ada'),
    ev.scored(A, 'k1', '2026-10-01T10:05:00.000Z', 'bot', ['webdriver']),
    ev.activity(A, 'k1', '2026-10-01T10:06:00.000Z', CANVAS_202),
    ev.started(A, 'k2', '2026-10-02T10:00:00.000Z', CANVAS_101),
    ev.identified(A, 'k2', '2026-10-02T10:00:01.000Z', 'u2', 'Bob'),
    ev.scored(A, 'k2', '2026-10-02T10:05:00.000Z', 'human'),
    ev.started(A, 'k3', '2026-10-03T10:00:00.000Z', CANVAS_101),
    ev.started(A, 'k4', '2026-10-04T10:00:00.000Z', 'https://acme.instructure.com/'),
    ev.page(A, 'k4', '2026-10-04T10:01:00.000Z', CANVAS_101),
    ev.identified(A, 'k4', '2026-10-04T10:00:02.000Z', 'u1'),
    ev.scored(A, 'k4', '2026-10-04T10:09:00.000Z', 'suspicious', ['paste_heavy']),
    ev.started(A, 'k5', '2026-10-05T10:00:00.000Z', MOODLE_42),
    ev.identified(A, 'k5', '2026-10-05T10:00:01.000Z', 'u3'),
    ev.scored(A, 'k5', '2026-10-05T10:02:00.000Z', 'human'),
    ev.started(A, 'k6', '2026-10-06T10:00:00.000Z', BB),
    ev.started(A, 'k7', '2026-10-06T11:00:00.000Z', 'https://acme.instructure.com/calendar'),
    ev.started(B, 'kb1', '2026-10-01T09:00:00.000Z', CANVAS_101),
    ev.identified(B, 'kb1', '2026-10-01T09:00:01.000Z', 'u1'),
    ev.scored(B, 'kb1', '2026-10-01T09:01:00.000Z', 'bot'),
  ]);
  await project([
    // Rows are replaced, never added: k2 becomes u1's, k5 is re-scored, k3's start moves earlier.
    ev.identified(A, 'k2', '2026-10-02T10:30:00.000Z', 'u1'),
    ev.scored(A, 'k5', '2026-10-05T10:20:00.000Z', 'bot', ['headless_browser']),
    ev.page(A, 'k3', '2026-09-28T08:00:00.000Z', CANVAS_101),
  ]);
  model = { clickhouse, tables, redis: untouchable('redis'), keys: untouchable('redis keys') };
  harness = await startRouteHarness(courseRoutes, () => model, A);
});

afterAll(async () => {
  await harness?.close();
  await clickhouse.close();
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, integration = A) => harness.get(path, integration);
const walk = (path: string, integration = A) => harness.walk(path, integration);

describe('courses list', () => {
  it('lists every course visited, in key order, with exact session, user and flagged counts', async () => {
    const courses = (await listCourses(model, A, {}, null, 100)).map(courseFromRow);
    expect(courses).toEqual([
      { id: KEYS.bb, platform: 'blackboard', courseId: '_123_1', host: 'learn.uni.ac.uk', sessionCount: 1, userCount: 0, flaggedSessionCount: 0, firstSeenAt: '2026-10-06T10:00:00.000Z', lastSeenAt: '2026-10-06T10:00:00.000Z' },
      { id: KEYS.c101, platform: 'canvas', courseId: '101', host: 'acme.instructure.com', sessionCount: 4, userCount: 1, flaggedSessionCount: 2, firstSeenAt: '2026-09-28T08:00:00.000Z', lastSeenAt: '2026-10-04T10:09:00.000Z' },
      { id: KEYS.c202, platform: 'canvas', courseId: '202', host: 'acme.instructure.com', sessionCount: 1, userCount: 1, flaggedSessionCount: 1, firstSeenAt: '2026-10-01T10:00:00.000Z', lastSeenAt: '2026-10-01T10:06:00.000Z' },
      { id: KEYS.m42, platform: 'moodle', courseId: '42', host: 'moodle.school.org', sessionCount: 1, userCount: 1, flaggedSessionCount: 1, firstSeenAt: '2026-10-05T10:00:00.000Z', lastSeenAt: '2026-10-05T10:20:00.000Z' },
    ]);
  });

  it('keeps tenants apart', async () => {
    const courses = (await listCourses(model, B, {}, null, 100)).map(courseFromRow);
    expect(courses.map((c) => [c.id, c.sessionCount, c.userCount, c.flaggedSessionCount])).toEqual([[KEYS.c101, 1, 1, 1]]);
  });

  it('filters by platform', async () => {
    expect((await listCourses(model, A, { platform: 'canvas' }, null, 100)).map((c) => c.course_key)).toEqual([KEYS.c101, KEYS.c202]);
    expect(await listCourses(model, A, { platform: 'sakai' }, null, 100)).toEqual([]);
  });

  it('pages through every course with signed cursors, no duplicates, no gaps', async () => {
    for (const limit of [1, 2, 3]) {
      const { items } = await walk(`/v1/courses?limit=${limit}`);
      expect(items.map((c) => c.id)).toEqual([KEYS.bb, KEYS.c101, KEYS.c202, KEYS.m42]);
    }
    const { pages, items } = await walk('/v1/courses?limit=1&platform=canvas');
    expect([pages, items.map((c) => c.id)]).toEqual([2, [KEYS.c101, KEYS.c202]]);
  });

  it('answers 400 for an unknown platform, unknown parameters and a cursor from another filter or tenant', async () => {
    const bad = await get('/v1/courses?platform=myspace');
    expect([bad.status, bad.body.error?.code, bad.body.error?.details.parameter]).toEqual([400, 'invalid_parameter', 'platform']);
    expect((await get('/v1/courses?host=x')).body.error?.code).toBe('unknown_parameter');
    const cursor = encodeURIComponent((await get('/v1/courses?limit=1')).body.pagination.nextCursor!);
    expect((await get(`/v1/courses?limit=1&platform=canvas&cursor=${cursor}`)).body.error?.code).toBe('invalid_cursor');
    expect((await get(`/v1/courses?limit=1&cursor=${cursor}`, B)).body.error?.code).toBe('invalid_cursor');
  });
});
