import { sessionFromRow, type SessionRow } from '../../projections/sessions/sessions.queries.js';
import { listUserSessions, listUsers, userFromRow } from '../../projections/users/users.queries.js';
import { UserIdParam, UserListQuery, UserListResponseSchema, UserSessionListQuery, UserSessionListResponseSchema } from '../../schemas/api/users.js';
import { z } from '../../schemas/api/zod.js';
import { canonicalFilters } from '../cursor.js';
import { notFound } from '../errors.js';
import { paginate } from '../pagination.js';
import { documented, integrationOf, routes, type RouterDeps } from '../route.js';

const UserPathParams = z.object({ userId: UserIdParam }).strict();

export function userRoutes(deps: RouterDeps) {
  const list = routes.createRouteSpec({
    name: 'listUsers',
    method: 'get',
    path: '/v1/users',
    validate: { query: UserListQuery },
    handler: async (ctx) => {
      const integrationId = integrationOf(ctx.state);
      const { limit, cursor, ...filters } = ctx.request.query;
      const scope = { integrationId, list: 'users', filters: canonicalFilters(filters) };
      const after = cursor ? deps.cursors.decode(scope, cursor, ['string']) : null;
      const rows = await listUsers(deps.readModel(), integrationId, filters, after ? String(after[0]) : null, limit + 1);
      ctx.body = paginate(rows, limit, userFromRow, (r) => [r.user_id], deps.cursors, scope);
    },
  });

  const sessions = routes.createRouteSpec({
    name: 'listUserSessions',
    method: 'get',
    path: '/v1/users/:userId/sessions',
    validate: { params: UserPathParams, query: UserSessionListQuery },
    handler: async (ctx) => {
      const integrationId = integrationOf(ctx.state);
      const { userId } = ctx.request.params;
      const { limit, cursor } = ctx.request.query;
      const scope = { integrationId, list: `user-sessions:${userId}`, filters: canonicalFilters({}) };
      const after = cursor ? deps.cursors.decode(scope, cursor, ['instant', 'string']) : null;
      const entries = await listUserSessions(
        deps.readModel(),
        integrationId,
        userId,
        after ? { createdAt: String(after[0]), sessionId: String(after[1]) } : null,
        limit + 1,
      );
      // A later page may legitimately be empty; only a first page proves the user has no sessions at all.
      if (!after && entries.length === 0) throw notFound('user', userId);
      // The cursor follows user_sessions keys, so an entry whose sessions row is missing is dropped after paging, not before.
      const page = paginate(entries, limit, (e) => e.session, (e) => [e.created_at, e.session_id], deps.cursors, scope);
      ctx.body = { data: page.data.filter((s): s is SessionRow => s !== null).map(sessionFromRow), pagination: page.pagination };
    },
  });

  return [
    documented(list, UserListResponseSchema, {
      tag: 'Users',
      summary: 'List LMS users correlated with sessions',
      description:
        'Users identified in at least one session, in user id order, cursor-paginated, with session counts and first/last seen. ' +
        '`flagged`, `since` and `until` select users; the counts always cover all of a user\'s sessions.',
      authenticated: true,
    }),
    documented(sessions, UserSessionListResponseSchema, {
      tag: 'Users',
      summary: 'Get sessions for an LMS user (paginated)',
      description: 'The user\'s sessions newest first, as the same Session resource as /v1/sessions. 404 when the user has no sessions.',
      errors: [404],
      authenticated: true,
    }),
  ];
}
