import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import zodRouter from 'koa-zod-router';
import { pino } from 'pino';
import { expect } from 'vitest';
import { createCursorCodec } from '../../api/cursor.js';
import { errorEnvelope } from '../../api/middleware/error-envelope.js';
import type { DocumentedRoute, RouterDeps } from '../../api/route.js';
import type { ApiState } from '../../api/state.js';
import { validationErrorHandler } from '../../api/validation.js';
import { courseSessionRows } from '../../projections/courses/courses.projection.js';
import { sessionEventRow } from '../../projections/session-events/session-events.projection.js';
import { evolveSession, sameState, type SessionState } from '../../projections/sessions/session-state.js';
import { sessionRows } from '../../projections/sessions/sessions.projection.js';
import type { ReadModel } from '../../projections/sessions/sessions.queries.js';
import type { ClickHouseGateway, Row } from '../../projections/store/clickhouse-gateway.js';
import type { TableNames } from '../../projections/store/table-set.js';
import { userSessionRows } from '../../projections/users/users.projection.js';
import { SessionEventSchema, type SessionEvent } from '../../schemas/events/session-events.js';

/**
 * Query tests fill ClickHouse with rows the real projection functions produce
 * from realistic events, batch by batch, without Kafka or Redis in the way.
 */
export function eventBuilders() {
  let seq = 0;
  const head = (integrationId: string, sessionId: string, occurredAt: string) => ({
    eventId: `evt_${String(++seq).padStart(5, '0')}`,
    schemaVersion: 1 as const,
    integrationId,
    sessionId,
    occurredAt,
  });
  return {
    started: (i: string, s: string, at: string, pageUrl: string): SessionEvent => ({ ...head(i, s, at), type: 'session.started', data: { pageUrl, userAgentSummary: 'Chrome 131 on Windows 11' } }),
    page: (i: string, s: string, at: string, pageUrl: string): SessionEvent => ({ ...head(i, s, at), type: 'session.page_viewed', data: { pageUrl, title: 'Quiz' } }),
    scored: (i: string, s: string, at: string, status: 'human' | 'suspicious' | 'bot', detectionFlags: string[] = []): SessionEvent => ({
      ...head(i, s, at),
      type: 'session.scored',
      data: { botScore: status === 'bot' ? 0.93 : status === 'suspicious' ? 0.6 : 0.05, status, detectionFlags, modelVersion: 'nai-2026.10.2' },
    }),
    activity: (i: string, s: string, at: string, pageUrl: string): SessionEvent => ({
      ...head(i, s, at),
      type: 'session.activity',
      data: { activities: [{ kind: 'click', at, pageUrl, attributes: { target: 'a.next' } }, { kind: 'scroll', at }] },
    }),
    identified: (i: string, s: string, at: string, userId: string, userName?: string): SessionEvent => ({
      ...head(i, s, at),
      type: 'session.identified',
      data: { userId, ...(userName ? { userName, userUrl: `https://acme.instructure.com/users/${userId}` } : {}) },
    }),
  };
}

export function createFixtureProjector(clickhouse: ClickHouseGateway, tables: TableNames) {
  const states = new Map<string, SessionState>();
  let version = 0;
  let offset = 0;
  /** One projector batch: fold, then write the rows of every changed session with one version. */
  async function project(batch: readonly SessionEvent[]): Promise<void> {
    version += 1;
    const before = new Map<string, SessionState | null>();
    const next = new Map<string, SessionState>();
    const eventRows: Row[] = [];
    for (const raw of batch) {
      const event = SessionEventSchema.parse(raw);
      const k = `${event.integrationId}/${event.sessionId}`;
      if (!before.has(k)) before.set(k, states.get(k) ?? null);
      next.set(k, evolveSession(next.get(k) ?? before.get(k) ?? null, event));
      eventRows.push(sessionEventRow(event, { partition: 0, offset: String(offset++) }));
    }
    const out = { sessions: [] as Row[], users: [] as Row[], courses: [] as Row[] };
    for (const [k, state] of next) {
      const prior = before.get(k) ?? null;
      if (sameState(prior, state)) continue;
      out.sessions.push(...sessionRows(prior, state, version));
      out.users.push(...userSessionRows(prior, state, version));
      out.courses.push(...courseSessionRows(state, version));
      states.set(k, state);
    }
    await clickhouse.insert(tables.session_events, eventRows);
    await clickhouse.insert(tables.sessions, out.sessions);
    await clickhouse.insert(tables.user_sessions, out.users);
    await clickhouse.insert(tables.course_sessions, out.courses);
  }
  return { project, states, state: (integrationId: string, sessionId: string) => states.get(`${integrationId}/${sessionId}`)! };
}

/** A stand-in that fails loudly if touched: proves a query path never reaches that store. */
export const untouchable = <T extends object>(what: string): T =>
  new Proxy({} as T, {
    get: () => {
      throw new Error(`${what} must not be used`);
    },
  });

export interface ListBody {
  data: Record<string, unknown>[];
  pagination: { nextCursor: string | null; hasMore: boolean };
  error?: { code: string; details: Record<string, unknown> };
}

/**
 * The given routes in a small Koa app with the real error envelope and
 * validation; the caller's integration comes from an `x-integration` header.
 */
export async function startRouteHarness(
  routes: (deps: RouterDeps) => DocumentedRoute[],
  model: () => ReadModel,
  defaultIntegration: string,
  now: () => number = Date.now,
) {
  const app = new Koa<ApiState>();
  app.use(async (ctx, next) => ((ctx.state.requestId = 'req_test'), (ctx.state.log = pino({ level: 'silent' })), next()));
  app.use(errorEnvelope());
  app.use(async (ctx, next) => {
    ctx.state.integration = { integrationId: ctx.get('x-integration'), name: 't', tier: 'pro', region: 'us', status: 'active', keyId: 'k', keyHash: 'h' };
    await next();
  });
  const router = zodRouter<ApiState>({ zodRouter: { validationErrorHandler } });
  for (const { spec } of routes({ readModel: model, cursors: createCursorCodec('test-secret'), now })) {
    router.register(spec as Parameters<typeof router.register>[0]);
  }
  app.use(router.routes());
  const server: Server = createServer(app.callback()).listen(0);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function get<B = ListBody>(path: string, integration = defaultIntegration): Promise<{ status: number; body: B }> {
    const res = await fetch(`${base}${path}`, { headers: { 'x-integration': integration } });
    return { status: res.status, body: (await res.json()) as B };
  }
  /** Follows nextCursor to the end, collecting every item. */
  async function walk(path: string, integration = defaultIntegration): Promise<{ pages: number; items: Record<string, unknown>[] }> {
    const items: Record<string, unknown>[] = [];
    let url = path;
    for (let pages = 1; ; pages += 1) {
      const { status, body } = await get(url, integration);
      expect(status).toBe(200);
      items.push(...body.data);
      if (!body.pagination.nextCursor) return { pages, items };
      url = `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(body.pagination.nextCursor)}`;
    }
  }
  return { base, get, walk, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
