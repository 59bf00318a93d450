// zod 4's compiled object parsers: this schema runs on every point read and every projected session, and zod 3 cost ~3x more.
import { z } from 'zod/v4';
import type { ClickHouseGateway } from '../store/clickhouse-gateway.js';
import type { RedisClient } from '../store/redis-client.js';
import type { RedisKeys } from '../store/redis-keys.js';
import type { TableNames } from '../store/table-set.js';
import type { SessionState } from '../sessions/session-state.js';

const StampFields = { at: z.string(), eventId: z.string() };

/** Stored states are re-validated on load: a corrupted document must fail loudly, not fold into garbage. */
export const SessionStateSchema = z.object({
  integrationId: z.string(),
  sessionId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  started: z.object({ ...StampFields, pageUrl: z.string(), userAgentSummary: z.string() }).nullable(),
  firstPage: z.object({ ...StampFields, pageUrl: z.string() }).nullable(),
  score: z
    .object({
      ...StampFields,
      botScore: z.number(),
      status: z.enum(['human', 'suspicious', 'bot']),
      detectionFlags: z.array(z.string()),
      modelVersion: z.string(),
    })
    .nullable(),
  identity: z.object({ ...StampFields, userId: z.string(), userName: z.string().nullable(), userUrl: z.string().nullable() }).nullable(),
  ended: z.object({ ...StampFields, reason: z.string() }).nullable(),
  courses: z.array(z.string()),
});

export function parseState(json: string): SessionState {
  return SessionStateSchema.parse(JSON.parse(json));
}

export interface SessionRef {
  integrationId: string;
  sessionId: string;
}

export interface RedisDoc {
  rev: string;
  state: SessionState;
}

export const refKey = (r: SessionRef): string => `${r.integrationId}\u0000${r.sessionId}`;

/**
 * The Redis documents of these sessions (absent ones are missing from the map).
 * One pipeline per integration: its keys share a hash tag, so on a Redis
 * Cluster each pipeline goes to one node, as ioredis requires.
 */
export async function loadRedisDocs(redis: RedisClient, keys: RedisKeys, refs: readonly SessionRef[]): Promise<Map<string, RedisDoc>> {
  const out = new Map<string, RedisDoc>();
  const byIntegration = new Map<string, SessionRef[]>();
  for (const r of refs) {
    const group = byIntegration.get(r.integrationId);
    if (group) group.push(r);
    else byIntegration.set(r.integrationId, [r]);
  }
  await Promise.all(
    [...byIntegration.values()].map(async (group) => {
      const pipeline = redis.pipeline();
      for (const r of group) pipeline.hmget(keys.session(r.integrationId, r.sessionId), 'rev', 'state');
      const results = (await pipeline.exec()) ?? [];
      group.forEach((r, i) => {
        const [error, value] = results[i] ?? [new Error('missing pipeline result'), null];
        if (error) throw error;
        const [rev, state] = value as [string | null, string | null];
        if (rev !== null && state !== null) out.set(refKey(r), { rev, state: parseState(state) });
      });
    }),
  );
  return out;
}

/**
 * Bound parameters naming a set of sessions by `<prefix>Integrations` and `<prefix>SessionIds`, the IN sets
 * the sort keys (and the bloom filter) can use. Their cross product may hold pairs that were not asked
 * for (one session id in two integrations), so callers keep only the rows of the sessions they asked
 * for. An exact pair filter in SQL was evaluated row by row: 821 ms for the timeline rows of 1,000
 * sessions of a big integration, 83 ms without it.
 */
const sessionSetParams = (prefix: string, refs: readonly SessionRef[]) => ({
  [`${prefix}Integrations`]: [...new Set(refs.map((r) => r.integrationId))],
  [`${prefix}SessionIds`]: [...new Set(refs.map((r) => r.sessionId))],
});

/** The ClickHouse states of these sessions; used when Redis has no document (e.g. Redis lost its data). */
export async function loadClickHouseStates(
  clickhouse: ClickHouseGateway,
  tables: TableNames,
  refs: readonly SessionRef[],
): Promise<Map<string, SessionState>> {
  const out = new Map<string, SessionState>();
  if (refs.length === 0) return out;
  const rows = await clickhouse.query<{ state: string }>(
    `SELECT state FROM ${tables.sessions} FINAL
     WHERE integration_id IN {refsIntegrations:Array(String)}
       AND session_id IN {refsSessionIds:Array(String)}`,
    sessionSetParams('refs', refs),
  );
  const asked = new Set(refs.map(refKey));
  for (const row of rows) {
    const state = parseState(row.state);
    if (asked.has(refKey(state))) out.set(refKey(state), state);
  }
  return out;
}

export interface SeenEvent {
  partition: number;
  offset: string;
}

export interface TimelineFacts {
  /** Which of the probed sessions have any timeline row. */
  present: Set<string>;
  /** Where each of the event ids was first projected, if it was: tells a replay from a duplicate publish. */
  seen: Map<string, SeenEvent>;
}

const seenEventsSql = (table: string): string => `
  SELECT integration_id, session_id, event_id, any(src_partition) AS src_partition, toString(any(src_offset)) AS src_offset
  FROM ${table}
  WHERE integration_id IN {refsIntegrations:Array(String)}
    AND session_id IN {refsSessionIds:Array(String)}
    AND event_id IN {ids:Array(String)}
  GROUP BY integration_id, session_id, event_id`;

const presentSessionsSql = (table: string): string => `
  SELECT integration_id, session_id, '' AS event_id, toUInt32(0) AS src_partition, '' AS src_offset
  FROM ${table}
  WHERE integration_id IN {probeIntegrations:Array(String)}
    AND session_id IN {probeSessionIds:Array(String)}
  GROUP BY integration_id, session_id`;

/**
 * One statement on the timeline table, sorted by (integration, session): where
 * each of `eventIds` (events of `refs`) was first projected, and which `probe`
 * sessions have any timeline row. The projector asks the second instead of
 * looking for state rows in `sessions`: that table is sorted by creation time,
 * so finding a batch's sessions there goes through a bloom filter that a
 * thousand ids pass in most granules (175 ms for 1,000 new sessions on an
 * integration of a million, and growing with it; 44 ms here).
 *
 * Asking the timeline is exact because every projected event writes at least one
 * timeline row, and a batch's state rows land before its timeline rows are sent:
 * a session with a state row but no timeline row was created by a batch that failed
 * in between, whose replay folds the same events onto the same empty state.
 */
export async function loadTimelineFacts(
  clickhouse: ClickHouseGateway,
  tables: TableNames,
  refs: readonly SessionRef[],
  probe: readonly SessionRef[],
  eventIds: readonly string[],
): Promise<TimelineFacts> {
  const facts: TimelineFacts = { present: new Set(), seen: new Map() };
  const seen = refs.length > 0 && eventIds.length > 0;
  const present = probe.length > 0;
  if (!seen && !present) return facts;
  const table = tables.session_events;
  const rows = await clickhouse.query<{ integration_id: string; session_id: string; event_id: string; src_partition: number; src_offset: string | number }>(
    seen && present ? `${seenEventsSql(table)}\n  UNION ALL${presentSessionsSql(table)}` : seen ? seenEventsSql(table) : presentSessionsSql(table),
    { ...(seen ? { ...sessionSetParams('refs', refs), ids: [...new Set(eventIds)] } : {}), ...(present ? sessionSetParams('probe', probe) : {}) },
  );
  const asked = new Set(refs.map(refKey));
  const probed = new Set(probe.map(refKey));
  for (const row of rows) {
    const session = refKey({ integrationId: row.integration_id, sessionId: row.session_id });
    if (row.event_id === '') {
      if (probed.has(session)) facts.present.add(session);
    } else if (asked.has(session)) {
      facts.seen.set(`${row.integration_id}\u0000${row.event_id}`, { partition: row.src_partition, offset: String(row.src_offset) });
    }
  }
  return facts;
}
