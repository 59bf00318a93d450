import { listSessionEvents, sessionEventCounts, sessionTimeline, type TimelineRow } from '../../projections/session-events/session-events.queries.js';
import { listSessions, loadClickHouseSessionState, loadRedisSessionState, sessionFromRow, toSessionResource } from '../../projections/sessions/sessions.queries.js';
import {
  SessionDetailsResponseSchema,
  SessionEventListQuery,
  SessionEventListResponseSchema,
  SessionIdParam,
  SessionListQuery,
  SessionListResponseSchema,
  SessionResponseSchema,
  type SessionEventResource,
} from '../../schemas/api/sessions.js';
import { z } from '../../schemas/api/zod.js';
import { canonicalFilters } from '../cursor.js';
import { notFound } from '../errors.js';
import { paginate } from '../pagination.js';
import { createSessionLookup } from '../session-lookup.js';
import { documented, integrationOf, routes, type RouterDeps } from '../route.js';

const SessionPathParams = z.object({ sessionId: SessionIdParam }).strict();
const TIMELINE_MAX = 1_000;
/**
 * Long on purpose: Redis is read on every request, and the projector writes a session to Redis in the same
 * batch as to ClickHouse, so remembering "in neither" never delays a session being projected; it only
 * bounds the engine lookups of ids polled before they exist (or that never will) to one per 30 s per replica.
 */
const SESSION_MISS_TTL_MS = 30_000;

function parseAttributes(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function eventFromRow(row: TimelineRow): SessionEventResource {
  return {
    id: `${row.event_id}:${row.seq}`,
    eventId: row.event_id,
    kind: row.kind as SessionEventResource['kind'],
    occurredAt: row.occurred_at,
    pageUrl: row.page_url === '' ? null : row.page_url,
    attributes: parseAttributes(row.attributes),
  };
}

export function sessionRoutes(deps: RouterDeps) {
  const loadSessionState = createSessionLookup(
    { fromRedis: loadRedisSessionState, fromClickHouse: loadClickHouseSessionState },
    { missTtlMs: SESSION_MISS_TTL_MS, maxEntries: 10_000, now: deps.now },
  );
  const list = routes.createRouteSpec({
    name: 'listSessions',
    method: 'get',
    path: '/v1/sessions',
    validate: { query: SessionListQuery },
    handler: async (ctx) => {
      const integrationId = integrationOf(ctx.state);
      const { limit, cursor, ...filters } = ctx.request.query;
      const scope = { integrationId, list: 'sessions', filters: canonicalFilters(filters) };
      const after = cursor ? deps.cursors.decode(scope, cursor, ['instant', 'string']) : null;
      const rows = await listSessions(
        deps.readModel(),
        integrationId,
        filters,
        after ? { createdAt: String(after[0]), sessionId: String(after[1]) } : null,
        limit + 1,
      );
      ctx.body = paginate(rows, limit, sessionFromRow, (r) => [r.created_at, r.session_id], deps.cursors, scope);
    },
  });

  const one = routes.createRouteSpec({
    name: 'getSession',
    method: 'get',
    path: '/v1/sessions/:sessionId',
    validate: { params: SessionPathParams, query: z.object({}).strict() },
    handler: async (ctx) => {
      const { sessionId } = ctx.request.params;
      const state = await loadSessionState(deps.readModel(), integrationOf(ctx.state), sessionId);
      if (!state) throw notFound('session', sessionId);
      ctx.body = { data: toSessionResource(state) };
    },
  });

  const details = routes.createRouteSpec({
    name: 'getSessionDetails',
    method: 'get',
    path: '/v1/sessions/:sessionId/details',
    validate: { params: SessionPathParams, query: z.object({}).strict() },
    handler: async (ctx) => {
      const integrationId = integrationOf(ctx.state);
      const { sessionId } = ctx.request.params;
      const model = deps.readModel();
      const state = await loadSessionState(model, integrationId, sessionId);
      if (!state) throw notFound('session', sessionId);
      const [timeline, eventCounts] = await Promise.all([
        sessionTimeline(model, integrationId, sessionId, TIMELINE_MAX),
        sessionEventCounts(model, integrationId, sessionId),
      ]);
      ctx.body = {
        data: {
          session: toSessionResource(state),
          endedAt: state.ended?.at ?? null,
          modelVersion: state.score?.modelVersion ?? null,
          timeline: timeline.map((row) => ({
            eventId: row.event_id,
            type: row.kind,
            occurredAt: row.occurred_at,
            pageUrl: row.page_url === '' ? null : row.page_url,
            attributes: parseAttributes(row.attributes),
          })),
          eventCounts,
          pageHistory: timeline
            .filter((row) => row.kind === 'started' || row.kind === 'page_viewed')
            .map((row) => {
              const title = parseAttributes(row.attributes).title;
              return { pageUrl: row.page_url, title: typeof title === 'string' ? title : null, viewedAt: row.occurred_at };
            }),
          courses: state.courses,
        },
      };
    },
  });

  const events = routes.createRouteSpec({
    name: 'listSessionEvents',
    method: 'get',
    path: '/v1/sessions/:sessionId/events',
    validate: { params: SessionPathParams, query: SessionEventListQuery },
    handler: async (ctx) => {
      const integrationId = integrationOf(ctx.state);
      const { sessionId } = ctx.request.params;
      const { limit, cursor, kind } = ctx.request.query;
      const model = deps.readModel();
      const scope = { integrationId, list: `events:${sessionId}`, filters: canonicalFilters({ kind }) };
      const after = cursor ? deps.cursors.decode(scope, cursor, ['instant', 'string', 'number']) : null;
      if (!after && !(await loadSessionState(model, integrationId, sessionId))) throw notFound('session', sessionId);
      const rows = await listSessionEvents(model, integrationId, sessionId, {
        kind,
        after: after ? { occurredAt: String(after[0]), eventId: String(after[1]), seq: Number(after[2]) } : null,
        limit: limit + 1,
      });
      ctx.body = paginate(rows, limit, eventFromRow, (r) => [r.occurred_at, r.event_id, r.seq], deps.cursors, scope);
    },
  });

  return [
    documented(list, SessionListResponseSchema, {
      tag: 'Sessions',
      summary: "List tracking sessions for the caller's integration",
      description: 'Newest first, cursor-paginated, filterable by time range, status, score range, detection flag, user, course and landing page.',
      authenticated: true,
    }),
    documented(one, SessionResponseSchema, { tag: 'Sessions', summary: 'Get a single tracking session by id', errors: [404], authenticated: true }),
    documented(details, SessionDetailsResponseSchema, {
      tag: 'Sessions',
      summary: 'Get detailed session data (timeline + event counts + page history)',
      errors: [404],
      authenticated: true,
    }),
    documented(events, SessionEventListResponseSchema, { tag: 'Sessions', summary: 'List event-level metadata for a session', errors: [404], authenticated: true }),
  ];
}

