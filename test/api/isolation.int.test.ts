/**
 * Tenant isolation (invariant 4) as a property over EVERY /v1 route, taken
 * from v1Routes so a new route is covered (or this test fails until it gets an
 * oracle). Several integrations with generated traffic; for seeded random
 * pairs (A, B), B's key with A's ids (in paths and in filters) answers 404 or
 * exactly what B's own data implies; every list B pages through to the end
 * holds exactly B's items; B's stats, analytics, usage and integration equal
 * what B's own data implies; A's cursors under B's key are 400 invalid_cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from '../../api/openapi.js';
import { evolveSession, type SessionState } from '../../projections/sessions/session-state.js';
import { toSessionResource } from '../../projections/sessions/sessions.queries.js';
import { FLAGGED_STATUSES } from '../../projections/users/users.queries.js';
import type { SessionResource } from '../../schemas/api/sessions.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { createRng } from '../../services/simulator/rng.js';
import { createTrafficGenerator } from '../../services/simulator/traffic.js';
import { expectedView, type IntegrationView } from '../faults/fault-support.js';
import { eventually } from '../support/poll.js';
import { get, mountedRoutes, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

const INTEGRATIONS = 5;
const SESSIONS = 70;
const PAIRS = 12;
const SEED = 0x150;
const IDS = Array.from({ length: INTEGRATIONS }, (_, i) => `int_iso_${i}`);

interface Oracle {
  id: string;
  key: string;
  keyId: string;
  displayPrefix: string;
  states: Map<string, SessionState>;
  events: Map<string, SessionEvent[]>;
  view: IntegrationView['redis'];
  lastEventAt: string;
  /** Requests sent with this key: what its /v1/usage must count. */
  requests: number;
}
/** Ids of one integration to put in paths and filters. */
interface Ids {
  sessionId: string;
  userId: string;
  course: string;
  pageUrl: string;
}
interface Route {
  name: string;
  koaPath: string;
  params: string[];
  query: string[];
  paginated: boolean;
}
/** B's answer as the test expects it: 404, or a comparable form of the list items or the data. */
type Expected = { status: 404 } | { status: 200; value: unknown };

let stack: TestStack;
let side: ReadSide;
let routes: Route[] = [];
const oracles = new Map<string, Oracle>();

const resource = (s: SessionState): SessionResource => toSessionResource(s);
const flagged = (s: SessionState) => (FLAGGED_STATUSES as readonly string[]).includes(resource(s).status);
const sortById = <T extends { id: string }>(items: T[]): T[] => [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const ok = (value: unknown): Expected => ({ status: 200, value });
const states = (o: Oracle, keep: (s: SessionState) => boolean = () => true) => [...o.states.values()].filter(keep);
const sessionsOf = (o: Oracle, keep?: (s: SessionState) => boolean) => sortById(states(o, keep).map(resource));
const usersOf = (o: Oracle) => new Set(states(o).flatMap((s) => (s.identity ? [s.identity.userId] : [])));
const coursesOf = (o: Oracle) => new Set(states(o).flatMap((s) => s.courses));

/** Per route: what B must answer, and the comparable form of what came back. Every /v1 route needs one. */
const ORACLES: Record<string, { expected(o: Oracle, ids: Ids, filters: Record<string, string>): Expected; actual(body: any): unknown }> = {
  listSessions: {
    expected: (o, _, f) =>
      ok(sessionsOf(o, (s) => (!f.userId || s.identity?.userId === f.userId) && (!f.course || s.courses.includes(f.course)) && (!f.pageUrl || (resource(s).pageUrl ?? '').startsWith(f.pageUrl)))),
    actual: (items) => sortById(items),
  },
  getSession: { expected: (o, ids) => (o.states.has(ids.sessionId) ? ok(resource(o.states.get(ids.sessionId)!)) : { status: 404 }), actual: (d) => d },
  getSessionDetails: {
    expected: (o, ids) => (o.states.has(ids.sessionId) ? ok({ session: resource(o.states.get(ids.sessionId)!), courses: o.states.get(ids.sessionId)!.courses }) : { status: 404 }),
    actual: (d) => ({ session: d.session, courses: d.courses }),
  },
  listSessionEvents: {
    // One item per lifecycle event and per activity of the session.
    expected: (o, ids) =>
      o.events.has(ids.sessionId) ? ok(o.events.get(ids.sessionId)!.flatMap((e) => (e.type === 'session.activity' ? e.data.activities.map(() => e.eventId) : [e.eventId])).sort()) : { status: 404 },
    actual: (items: { eventId: string }[]) => items.map((i) => i.eventId).sort(),
  },
  listUsers: {
    expected: (o) =>
      ok(sortById([...usersOf(o)].map((id) => ({ id, sessionCount: states(o, (s) => s.identity?.userId === id).length, flaggedSessionCount: states(o, (s) => s.identity?.userId === id && flagged(s)).length })))),
    actual: (items) => sortById(items.map((u: any) => ({ id: u.id, sessionCount: u.sessionCount, flaggedSessionCount: u.flaggedSessionCount }))),
  },
  listUserSessions: {
    expected: (o, ids) => (usersOf(o).has(ids.userId) ? ok(sessionsOf(o, (s) => s.identity?.userId === ids.userId)) : { status: 404 }),
    actual: (items) => sortById(items),
  },
  listCourses: {
    expected: (o) =>
      ok(
        sortById(
          [...coursesOf(o)].map((id) => {
            const visits = states(o, (s) => s.courses.includes(id));
            return { id, sessionCount: visits.length, userCount: new Set(visits.flatMap((s) => (s.identity ? [s.identity.userId] : []))).size, flaggedSessionCount: visits.filter(flagged).length };
          }),
        ),
      ),
    actual: (items) => sortById(items.map((c: any) => ({ id: c.id, sessionCount: c.sessionCount, userCount: c.userCount, flaggedSessionCount: c.flaggedSessionCount }))),
  },
  getAnalytics: {
    expected: (o) => {
      const all = sessionsOf(o);
      const flags = new Map<string, number>();
      for (const s of all) for (const f of s.detectionFlags) flags.set(f, (flags.get(f) ?? 0) + 1);
      const topFlags = [...flags].sort(([fa, a], [fb, b]) => b - a || (fa < fb ? -1 : 1)).slice(0, 10).map(([flag, sessions]) => ({ flag, sessions }));
      const { sessions, sessionsByStatus: byStatus, events, activities } = o.view;
      return ok({ sessions, byStatus, events, activities, flaggedSessions: all.filter((s) => s.status !== 'human' && s.status !== 'unscored').length, topFlags, before: [0, 0] });
    },
    actual: ({ summary: s }) => ({ sessions: s.sessions, byStatus: s.byStatus, events: s.events, activities: s.activities, flaggedSessions: s.flaggedSessions, topFlags: s.topFlags, before: [s.trend.sessions, s.trend.events] }),
  },
  getStats: {
    expected: (o) => ok({ ...o.view, lastEventAt: o.lastEventAt }),
    actual: (d) => ({ sessions: d.sessions, sessionsByStatus: d.sessionsByStatus, identified: d.identifiedSessions, ended: d.endedSessions, events: d.events, eventsByType: d.eventsByType, activities: d.activities, lastEventAt: d.lastEventAt }),
  },
  getIntegration: { expected: (o) => ok({ id: o.id, name: o.id, apiKey: { id: o.keyId, displayPrefix: o.displayPrefix } }), actual: (d) => ({ id: d.id, name: d.name, apiKey: d.apiKey }) },
  // The meter writes after answering, so this request is not in its own count yet.
  getUsage: { expected: (o) => ok(o.requests - 1), actual: (d) => d.total.requests },
};

/**
 * GET with the integration's key, counted for its usage unless the key was not
 * known yet (401: no integration to meter). The first polls for the fixture can
 * come before the projector has taken the key in when the machine is busy.
 */
async function call(o: Oracle, path: string) {
  const res = await get(side.url, path, o.key);
  if (res.status !== 401) o.requests += 1;
  return res;
}

const fill = (route: Route, ids: Ids) => route.koaPath.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => encodeURIComponent(ids[name as keyof Ids]));
const withQuery = (path: string, query: Record<string, string>) => (Object.keys(query).length ? `${path}?${new URLSearchParams(query)}` : path);

/** B's answer for the route (every page of a list, `limit` a page), checked against B's oracle. */
async function expectAnswer(route: Route, o: Oracle, ids: Ids, filters: Record<string, string>, limit: number, what: string): Promise<void> {
  const oracle = ORACLES[route.name]!;
  const base = fill(route, ids);
  const answer = async (): Promise<{ status: number; value?: unknown }> => {
    if (!route.paginated) {
      const res = await call(o, withQuery(base, filters));
      return res.status === 200 ? { status: 200, value: oracle.actual(res.body.data) } : { status: res.status };
    }
    const items: unknown[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 500; pages++) {
      const res = await call(o, withQuery(base, { ...filters, limit: String(limit), ...(cursor ? { cursor } : {}) }));
      if (res.status !== 200) return { status: res.status };
      items.push(...res.body.data);
      cursor = res.body.pagination.nextCursor;
      if (!cursor) return { status: 200, value: oracle.actual(items) };
    }
    throw new Error(`${what}: pagination did not end`);
  };
  const check = async (): Promise<true> => {
    const got = await answer();
    expect(got, what).toEqual(oracle.expected(o, ids, filters));
    return true;
  };
  // Usage is metered after the answer, without holding it: it settles; everything else is exact at once.
  if (route.name === 'getUsage') await eventually(check, { timeoutMs: 10_000, what });
  else await check();
}

/** The nextCursor of A's first page of one item (A's own ids in the path). */
async function cursorOf(route: Route, a: Oracle, ids: Ids): Promise<string> {
  const res = await call(a, withQuery(fill(route, ids), { limit: '1' }));
  expect(res.status, `${route.name} first page of ${a.id}`).toBe(200);
  expect(res.body.pagination.nextCursor, `${route.name}: the fixture needs two items for ${a.id}`).toEqual(expect.any(String));
  return res.body.pagination.nextCursor as string;
}

/** Ids of an integration for paths and filters: a seeded session, its best-known user, a course. */
function idsOf(o: Oracle, rng: ReturnType<typeof createRng>): Ids {
  const all = states(o);
  const users = [...usersOf(o)].sort((x, y) => states(o, (s) => s.identity?.userId === y).length - states(o, (s) => s.identity?.userId === x).length || (x < y ? -1 : 1));
  const session = rng.pick(all.filter((s) => s.courses.length > 0 && (o.events.get(s.sessionId)?.length ?? 0) >= 2));
  return { sessionId: session.sessionId, userId: users[0]!, course: session.courses[0]!, pageUrl: resource(session).pageUrl! };
}

beforeAll(async () => {
  stack = await startStack({ name: 'isolation', env: { RATE_LIMITS: 'free=60,starter=300,pro=1200,enterprise=100000000' } });
  side = await startReadSide(stack);
  const generator = createTrafficGenerator({ seed: SEED, integrationIds: IDS, startAt: new Date(Date.now() - 7_200_000), usersPerIntegration: 3, coursesPerIntegration: 3 });
  const sessions = Array.from({ length: SESSIONS }, () => generator.nextSimulatedSession());
  const events = sessions.flatMap((s) => s.events);
  const views = expectedView(events);
  for (const id of IDS) {
    const key = await provisionIntegration(stack, { integrationId: id, tier: 'enterprise' });
    const own = sessions.filter((s) => s.integrationId === id);
    oracles.set(id, {
      id,
      key: key.rawKey,
      keyId: key.keyId,
      displayPrefix: key.displayPrefix,
      states: new Map(own.map((s) => [s.sessionId, s.events.reduce<SessionState | null>((st, e) => evolveSession(st, e), null)!])),
      events: new Map(own.map((s) => [s.sessionId, s.events])),
      view: views[id]!.redis,
      lastEventAt: new Date(Math.max(...own.flatMap((s) => s.events.map((e) => Date.parse(e.occurredAt))))).toISOString(),
      requests: 0,
    });
  }
  await stack.publish(events);
  for (const o of oracles.values()) {
    await eventually(() => call(o, '/v1/stats'), {
      until: (r) => r.status === 200 && r.body.data.events === o.view.events && r.body.data.sessions === o.view.sessions,
      what: `${o.id} projected`,
    });
  }
  await stack.drained();
  const specs = mountedRoutes(stack);
  const doc = (await get(side.url, '/openapi/v3.json')).body as { paths: Record<string, { get?: { parameters?: { name: string; in: string }[] } }> };
  routes = specs.map(({ spec }) => {
    const koaPath = String(spec.path);
    const parameters = doc.paths[openApiPath(koaPath)]?.get?.parameters ?? [];
    const query = parameters.filter((p) => p.in === 'query').map((p) => p.name);
    return { name: spec.name ?? koaPath, koaPath, params: parameters.filter((p) => p.in === 'path').map((p) => p.name), query, paginated: query.includes('cursor') };
  });
});

afterAll(async () => {
  await side?.stop();
  await stack?.stop();
});

describe('tenant isolation over every /v1 route', () => {
  it('every route of v1Routes has an isolation oracle and takes only ids this test knows how to fill', () => {
    expect(routes.length).toBeGreaterThanOrEqual(11);
    expect(routes.map((r) => r.name).sort()).toEqual(Object.keys(ORACLES).sort());
    for (const route of routes) for (const p of route.params) expect(['sessionId', 'userId'], `${route.koaPath} :${p}`).toContain(p);
    expect(routes.filter((r) => r.paginated).length).toBeGreaterThanOrEqual(5);
  });

  it(`${PAIRS} seeded pairs (A, B): B sees only its own data on every route, and A's ids and cursors get B nothing`, async () => {
    const rng = createRng(SEED);
    const filterIds: Record<string, keyof Ids> = { userId: 'userId', course: 'course', pageUrl: 'pageUrl' };
    let checks = 0;
    for (let pair = 0; pair < PAIRS; pair++) {
      const a = oracles.get(rng.pick(IDS))!;
      const b = oracles.get(rng.pick(IDS.filter((id) => id !== a.id)))!;
      const aIds = idsOf(a, rng);
      const bIds = idsOf(b, rng);
      for (const route of routes) {
        const limit = rng.int(1, 9);
        const what = (s: string) => `${route.name}: ${b.id} ${s} (A = ${a.id})`;
        // B's own answer, every page: exactly B's items and numbers.
        await expectAnswer(route, b, bIds, {}, limit, what('own'));
        // A's ids in the path: 404, or B's own data for an id both happen to have.
        if (route.params.length > 0) await expectAnswer(route, b, aIds, {}, limit, what("with A's path ids"));
        // A's ids as filters: only B's matching items (none, unless B has the same id).
        for (const name of route.query.filter((q) => q in filterIds)) await expectAnswer(route, b, bIds, { [name]: aIds[filterIds[name]!] }, limit, what(`${name}=A's`));
        if (route.paginated) {
          const cursor = await cursorOf(route, a, aIds);
          for (const ids of [aIds, bIds]) {
            const res = await call(b, withQuery(fill(route, ids), { limit: '1', cursor }));
            expect([res.status, res.body.error?.code], what("A's cursor")).toEqual([400, 'invalid_cursor']);
          }
        }
        checks += 1;
      }
    }
    expect(checks).toBe(routes.length * PAIRS);
    // Usage, last: each integration counted exactly its own requests.
    const usage = routes.find((r) => r.name === 'getUsage')!;
    for (const o of oracles.values()) await expectAnswer(usage, o, idsOf(o, rng), {}, 1, `${o.id} usage at the end`);
  });
});
