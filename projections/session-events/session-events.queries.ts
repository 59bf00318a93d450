import type { ReadModel } from '../sessions/sessions.queries.js';

export interface TimelineRow {
  occurred_at: string;
  event_id: string;
  seq: number;
  event_type: string;
  kind: string;
  page_url: string;
  attributes: string;
}

const TIMELINE_COLUMNS = 'occurred_at, event_id, toUInt16(n - 1) AS seq, event_type, kind, page_url, attributes';

/** One row per timeline entry: a session's event rows with their item arrays expanded (entry n has seq n-1). */
const ENTRIES = `ARRAY JOIN item_at AS occurred_at, item_kind AS kind, item_page_url AS page_url, item_attributes AS attributes, arrayEnumerate(item_kind) AS n`;

/** Lifecycle entries of a session (everything but activity items), in time order; bounded so one huge session cannot exhaust memory. */
export async function sessionTimeline(model: ReadModel, integrationId: string, sessionId: string, max: number): Promise<TimelineRow[]> {
  return model.clickhouse.query<TimelineRow>(
    `SELECT ${TIMELINE_COLUMNS} FROM ${model.tables.session_events} FINAL ${ENTRIES}
     WHERE integration_id = {integrationId:String} AND session_id = {sessionId:String} AND event_type != 'session.activity'
     ORDER BY occurred_at, event_id, seq
     LIMIT {max:UInt32}`,
    { integrationId, sessionId, max },
  );
}

/** Counts of a session's timeline entries by kind. */
export async function sessionEventCounts(model: ReadModel, integrationId: string, sessionId: string): Promise<Record<string, number>> {
  const rows = await model.clickhouse.query<{ kind: string; n: number }>(
    `SELECT kind, toUInt32(count()) AS n FROM ${model.tables.session_events} FINAL ARRAY JOIN item_kind AS kind
     WHERE integration_id = {integrationId:String} AND session_id = {sessionId:String}
     GROUP BY kind ORDER BY kind`,
    { integrationId, sessionId },
  );
  return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
}

/** A page of a session's entries in time order, after the (occurred_at, event_id, seq) of the previous page. */
export async function listSessionEvents(
  model: ReadModel,
  integrationId: string,
  sessionId: string,
  options: { kind?: string | undefined; after: { occurredAt: string; eventId: string; seq: number } | null; limit: number },
): Promise<TimelineRow[]> {
  const clauses = ['integration_id = {integrationId:String}', 'session_id = {sessionId:String}'];
  const params: Record<string, string | number | Date> = { integrationId, sessionId, limit: options.limit };
  if (options.kind) {
    clauses.push('kind = {kind:String}');
    params.kind = options.kind;
  }
  if (options.after) {
    clauses.push("(occurred_at, event_id, seq) > ({afterAt:DateTime64(3, 'UTC')}, {afterEventId:String}, {afterSeq:UInt16})");
    params.afterAt = new Date(options.after.occurredAt);
    params.afterEventId = options.after.eventId;
    params.afterSeq = options.after.seq;
  }
  return model.clickhouse.query<TimelineRow>(
    `SELECT ${TIMELINE_COLUMNS} FROM ${model.tables.session_events} FINAL ${ENTRIES}
     WHERE ${clauses.join(' AND ')}
     ORDER BY occurred_at, event_id, seq
     LIMIT {limit:UInt32}`,
    params,
  );
}
