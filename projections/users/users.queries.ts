import type { UserListFilters, UserResource } from '../../schemas/api/users.js';
import { SESSION_COLUMNS, type ReadModel, type SessionRow } from '../sessions/sessions.queries.js';
import type { ParamValue } from '../store/clickhouse-gateway.js';

/** Only ClickHouse: these reads never touch Redis. */
export type ClickHouseReadModel = Pick<ReadModel, 'clickhouse' | 'tables'>;

/** Verdicts that count as flagged in users, courses and analytics alike. */
export const FLAGGED_STATUSES = ['suspicious', 'bot'] as const;

export interface UserRow {
  user_id: string;
  name: string;
  url: string;
  session_count: number;
  flagged_session_count: number;
  first_seen_at: string;
  last_seen_at: string;
}

const orNull = (s: string): string | null => (s === '' ? null : s);

export function userFromRow(row: UserRow): UserResource {
  return {
    id: row.user_id,
    name: orNull(row.name),
    url: orNull(row.url),
    sessionCount: row.session_count,
    flaggedSessionCount: row.flagged_session_count,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
  };
}

/**
 * Users in user_id order, after `afterUserId`. user_sessions is sorted by
 * (integration_id, user_id, ...), so with optimize_aggregation_in_order the
 * groups come out of the scan already in order and the LIMIT stops it after
 * limit groups, instead of aggregating every user of the integration. The
 * filters are about the user (HAVING), not about which sessions are counted.
 */
export async function listUsers(
  model: ClickHouseReadModel,
  integrationId: string,
  filters: UserListFilters,
  afterUserId: string | null,
  limit: number,
): Promise<UserRow[]> {
  const where = ['integration_id = {integrationId:String}'];
  const having: string[] = [];
  const params: Record<string, ParamValue> = { integrationId, limit, flaggedStatuses: [...FLAGGED_STATUSES] };
  if (afterUserId !== null) (where.push('user_id > {afterUserId:String}'), (params.afterUserId = afterUserId));
  if (filters.flagged !== undefined) having.push(filters.flagged ? 'flagged_session_count > 0' : 'flagged_session_count = 0');
  if (filters.since) (having.push("last_seen_at >= {since:DateTime64(3, 'UTC')}"), (params.since = filters.since));
  if (filters.until) (having.push("last_seen_at < {until:DateTime64(3, 'UTC')}"), (params.until = filters.until));
  // Name and URL come from the latest session that carried one: a later session identified by id alone must not blank them.
  return model.clickhouse.query<UserRow>(
    `SELECT user_id,
            argMaxIf(user_name, updated_at, user_name != '') AS name,
            argMaxIf(user_url, updated_at, user_url != '') AS url,
            toUInt32(count()) AS session_count,
            toUInt32(countIf(status IN {flaggedStatuses:Array(String)})) AS flagged_session_count,
            min(created_at) AS first_seen_at,
            max(updated_at) AS last_seen_at
     FROM ${model.tables.user_sessions} FINAL
     WHERE ${where.join(' AND ')}
     GROUP BY user_id
     ${having.length > 0 ? `HAVING ${having.join(' AND ')}` : ''}
     ORDER BY user_id
     LIMIT {limit:UInt32}
     SETTINGS optimize_aggregation_in_order = 1`,
    params,
  );
}

/** One entry of a user's session list: its key in user_sessions, and the full session row when sessions has it. */
export interface UserSessionEntry {
  created_at: string;
  session_id: string;
  session: SessionRow | null;
}

/**
 * A page of one user's sessions, newest first, after the (created_at,
 * session_id) of the previous page. The page and its order come from
 * user_sessions (a key-prefix read); the full resources come from sessions by
 * id, because user_sessions holds only a subset of the columns.
 */
export async function listUserSessions(
  model: ClickHouseReadModel,
  integrationId: string,
  userId: string,
  after: { createdAt: string; sessionId: string } | null,
  limit: number,
): Promise<UserSessionEntry[]> {
  const where = ['integration_id = {integrationId:String}', 'user_id = {userId:String}'];
  const params: Record<string, ParamValue> = { integrationId, userId, limit };
  if (after) {
    where.push("(created_at, session_id) < ({afterCreatedAt:DateTime64(3, 'UTC')}, {afterSessionId:String})");
    params.afterCreatedAt = new Date(after.createdAt);
    params.afterSessionId = after.sessionId;
  }
  const keys = await model.clickhouse.query<{ created_at: string; session_id: string }>(
    `SELECT created_at, session_id FROM ${model.tables.user_sessions} FINAL
     WHERE ${where.join(' AND ')}
     ORDER BY created_at DESC, session_id DESC
     LIMIT {limit:UInt32}`,
    params,
  );
  const newest = keys[0];
  if (newest === undefined) return [];
  const rows = await sessionsOfUser(model, integrationId, userId, keys.map((k) => k.session_id), newest.created_at);
  const byId = new Map(rows.map((r) => [r.session_id, r]));
  return keys.map((k) => ({ ...k, session: byId.get(k.session_id) ?? null }));
}

/**
 * The sessions rows of a page. A session's created_at only ever moves earlier,
 * and the projector writes sessions before user_sessions, so no row can be
 * newer than the page's newest key: that bound prunes by primary key, the
 * session_id bloom index does the rest. A session re-identified as someone
 * else in the instant between the two writes is left out rather than shown
 * under the wrong user.
 */
async function sessionsOfUser(model: ClickHouseReadModel, integrationId: string, userId: string, ids: string[], newest: string): Promise<SessionRow[]> {
  return model.clickhouse.query<SessionRow>(
    `SELECT ${SESSION_COLUMNS} FROM ${model.tables.sessions} FINAL
     WHERE integration_id = {integrationId:String}
       AND created_at <= {newest:DateTime64(3, 'UTC')}
       AND session_id IN {ids:Array(String)}
       AND user_id = {userId:String}`,
    { integrationId, userId, ids, newest: new Date(newest) },
  );
}
