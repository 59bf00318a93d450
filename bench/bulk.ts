import type { ClickHouseGateway, Row } from '../projections/store/clickhouse-gateway.js';
import { sessionEventRow } from '../projections/session-events/session-events.projection.js';
import { evolveSession, type SessionState } from '../projections/sessions/session-state.js';
import { sessionRows } from '../projections/sessions/sessions.projection.js';
import { tableNames } from '../projections/store/table-set.js';
import { createTrafficGenerator } from '../services/simulator/traffic.js';
import { BIG_INTEGRATION } from './dataset.js';
import { log, task } from './progress.js';
import { round } from './results.js';

/**
 * The big integration, built in seconds instead of pushed through Kafka:
 *
 * 1. Template rows come from the real projection code: simulator sessions
 *    folded with `evolveSession`, turned into rows by `sessionRows` and
 *    `sessionEventRow`, inserted into two Memory tables.
 * 2. `INSERT … SELECT` crosses the templates with `numbers()` into the live
 *    (generation 1) tables: session s gets id `ses_bench<s, 21 digits>` and
 *    starts at START + s·spacing, evenly over 29 days ending an hour ago;
 *    every timestamp of its rows is shifted by the same amount; the `state`
 *    JSON has its sessionId/createdAt/updatedAt rewritten to match (the
 *    nested stamps keep the template's times: nothing reads them on these
 *    paths). Event rows go into session_events, so the materialized view
 *    fills events_hourly exactly as it does for the projector's inserts.
 */
const DAY_MS = 86_400_000;
const SESSION_TEMPLATES = 2_000;
const EVENT_TEMPLATES = 200;
const TPL_SESSIONS = 'bench_tpl_sessions';
const TPL_EVENTS = 'bench_tpl_events';
const SESSIONS_PER_STATEMENT = 250_000;
// An event row carries about eight timeline entries in its arrays.
const EVENTS_PER_STATEMENT = 500_000;

export interface BigDataset {
  integrationId: string;
  sessions: number;
  /** Rows of session_events: events as the API counts them (an activity batch is one event of many items). */
  events: number;
  /** Timeline entries in those rows' arrays (lifecycle events and activity items). */
  items: number;
  startMs: number;
  endMs: number;
  seconds: number;
}

function templates(seed: number, count: number, startMs: number): SessionState[] {
  const generator = createTrafficGenerator({ seed, integrationIds: [BIG_INTEGRATION], startAt: new Date(startMs), sessionsPerSecond: 1 });
  return Array.from({ length: count }, () => generator.nextSimulatedSession().events).map((events) => {
    let state: SessionState | null = null;
    for (const event of events) state = evolveSession(state, event);
    if (state === null) throw new Error('a simulated session without events');
    return state;
  });
}

/** Rows of one template session's events, tagged with the template index and event index. */
function eventTemplateRows(seed: number, count: number, startMs: number): Row[] {
  const generator = createTrafficGenerator({ seed: seed + 7, integrationIds: [BIG_INTEGRATION], startAt: new Date(startMs), sessionsPerSecond: 1 });
  const rows: Row[] = [];
  for (let tpl = 0; tpl < count; tpl++) {
    const events = generator.nextSimulatedSession().events;
    const createdMs = Math.min(...events.map((e) => Date.parse(e.occurredAt)));
    events.forEach((event, evIdx) => {
      rows.push({ ...sessionEventRow(event, { partition: 0, offset: String(evIdx) }), tpl, ev_idx: evIdx, tpl_created_ms: createdMs });
    });
  }
  return rows;
}

async function insertChunked(clickhouse: ClickHouseGateway, table: string, rows: readonly Row[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 20_000) await clickhouse.insert(table, rows.slice(i, i + 20_000));
}

/** ISO text of a DateTime64(3, 'UTC') expression, exactly as canonicalIso writes it into the state JSON. */
const iso = (expr: string): string => `concat(replaceOne(toString(${expr}), ' ', 'T'), 'Z')`;
const shifted = (expr: string): string => `fromUnixTimestamp64Milli(toUnixTimestamp64Milli(${expr}) + shift, 'UTC')`;
const SESSION_COLUMNS =
  'integration_id, session_id, created_at, updated_at, status, bot_score, detection_flags, model_version, page_url, user_agent_summary, user_id, user_name, user_url, course_keys, ended_at, state, version, is_deleted';
const EVENT_COLUMNS = 'integration_id, session_id, event_id, event_at, event_type, item_at, item_kind, item_page_url, item_attributes, src_partition, src_offset';
const SESSION_ID = (s: string): string => `concat('ses_bench', leftPad(toString(${s}), 21, '0'))`;

/** Inner names (c0, u0, ...) differ from the output columns so no alias can shadow the column it is computed from. */
const insertSessions = (table: string): string => `
  INSERT INTO ${table} (${SESSION_COLUMNS})
  SELECT integration_id, sid, ${shifted('c0')}, ${shifted('u0')},
         status, bot_score, detection_flags, model_version, page_url, user_agent_summary, user_id, user_name, user_url, course_keys,
         if(isNull(e0), NULL, ${shifted('assumeNotNull(e0)')}),
         replaceOne(replaceOne(replaceOne(st0,
           concat('"sessionId":"', sid0, '"'), concat('"sessionId":"', sid, '"')),
           concat('"createdAt":"', ${iso('c0')}, '"'), concat('"createdAt":"', ${iso(shifted('c0'))}, '"')),
           concat('"updatedAt":"', ${iso('u0')}, '"'), concat('"updatedAt":"', ${iso(shifted('u0'))}, '"')),
         version, is_deleted
  FROM (
    SELECT tp.integration_id AS integration_id, tp.status AS status, tp.bot_score AS bot_score, tp.detection_flags AS detection_flags,
           tp.model_version AS model_version, tp.page_url AS page_url, tp.user_agent_summary AS user_agent_summary, tp.user_id AS user_id,
           tp.user_name AS user_name, tp.user_url AS user_url, tp.course_keys AS course_keys, tp.version AS version, tp.is_deleted AS is_deleted,
           tp.session_id AS sid0, tp.created_at AS c0, tp.updated_at AS u0, tp.ended_at AS e0, tp.state AS st0,
           n.number * {templates:UInt64} + tp.tpl AS s, ${SESSION_ID('s')} AS sid,
           toInt64({startMs:Int64} + floor(s * {spacing:Float64})) - toUnixTimestamp64Milli(tp.created_at) AS shift
    FROM ${TPL_SESSIONS} AS tp CROSS JOIN numbers({from:UInt64}, {reps:UInt64}) AS n
    WHERE s < {sessions:UInt64}
  )`;

const insertEvents = (table: string): string => `
  INSERT INTO ${table} (${EVENT_COLUMNS})
  SELECT integration_id, ${SESSION_ID('s')}, concat('evt_', leftPad(toString(j), 12, '0'), leftPad(toString(ev_idx), 14, '0')),
         ${shifted('ea0')}, event_type, arrayMap(x -> ${shifted('x')}, ia0), item_kind, item_page_url, item_attributes,
         src_partition, j * 1000 + ev_idx
  FROM (
    SELECT e.integration_id AS integration_id, e.event_type AS event_type, e.item_kind AS item_kind, e.item_page_url AS item_page_url,
           e.item_attributes AS item_attributes, e.src_partition AS src_partition, e.ev_idx AS ev_idx, e.item_at AS ia0, e.event_at AS ea0,
           n.number * {templates:UInt64} + e.tpl AS j,
           toUInt64(floor(j * {stride:Float64})) AS s,
           toInt64({startMs:Int64} + floor(s * {spacing:Float64})) - e.tpl_created_ms AS shift
    FROM ${TPL_EVENTS} AS e CROSS JOIN numbers({from:UInt64}, {reps:UInt64}) AS n
    WHERE j < {eventSessions:UInt64}
  )
  LIMIT {rows:UInt64}`;

export async function buildBigIntegration(clickhouse: ClickHouseGateway, options: { seed: number; sessions: number; events: number; now: number }): Promise<BigDataset> {
  const started = performance.now();
  const t = tableNames(1);
  const endMs = options.now - 3_600_000;
  const startMs = endMs - 29 * DAY_MS;
  const spacing = (endMs - startMs) / options.sessions;
  const sessionTemplates = Math.min(SESSION_TEMPLATES, options.sessions);

  await clickhouse.command(`DROP TABLE IF EXISTS ${TPL_SESSIONS}`);
  await clickhouse.command(`DROP TABLE IF EXISTS ${TPL_EVENTS}`);
  await clickhouse.command(`CREATE TABLE ${TPL_SESSIONS} ENGINE = Memory AS SELECT *, toUInt32(0) AS tpl FROM ${t.sessions} WHERE 0`);
  await clickhouse.command(
    `CREATE TABLE ${TPL_EVENTS} ENGINE = Memory AS SELECT *, toUInt32(0) AS tpl, toUInt32(0) AS ev_idx, toInt64(0) AS tpl_created_ms FROM ${t.session_events} WHERE 0`,
  );
  const states = templates(options.seed, sessionTemplates, startMs);
  await insertChunked(clickhouse, TPL_SESSIONS, states.map((state, tpl) => ({ ...sessionRows(null, state, 1)[0], tpl })));
  const eventRows = eventTemplateRows(options.seed, EVENT_TEMPLATES, startMs);
  await insertChunked(clickhouse, TPL_EVENTS, eventRows);
  log(`big integration: templates ready (${sessionTemplates} sessions, ${eventRows.length} events of ${EVENT_TEMPLATES} sessions)`);

  // In chunks: each statement stays well inside the HTTP request timeout and the engine's memory.
  const sessionReps = Math.ceil(options.sessions / sessionTemplates);
  const sessionChunk = Math.max(1, Math.floor(SESSIONS_PER_STATEMENT / sessionTemplates));
  const sessionsTask = task('big integration: sessions', options.sessions, 'sessions');
  for (let from = 0; from < sessionReps; from += sessionChunk) {
    await clickhouse.command(insertSessions(t.sessions), { templates: sessionTemplates, startMs, spacing, from, reps: Math.min(sessionChunk, sessionReps - from), sessions: options.sessions });
    sessionsTask.update(Math.min(options.sessions, (from + sessionChunk) * sessionTemplates));
  }
  sessionsTask.done();

  // Sessions that carry events are spread evenly over all sessions, so the events cover the whole 29 days.
  const rowsPerSession = eventRows.length / EVENT_TEMPLATES;
  const eventSessions = Math.min(options.sessions, Math.ceil(options.events / rowsPerSession) + EVENT_TEMPLATES);
  const eventReps = Math.ceil(eventSessions / EVENT_TEMPLATES);
  const eventChunk = Math.max(1, Math.floor(EVENTS_PER_STATEMENT / eventRows.length));
  const eventsTask = task('big integration: events', options.events, 'events');
  let inserted = 0;
  for (let from = 0; from < eventReps && inserted < options.events; from += eventChunk) {
    await clickhouse.command(insertEvents(t.session_events), {
      templates: EVENT_TEMPLATES,
      stride: options.sessions / eventSessions,
      startMs,
      spacing,
      from,
      reps: Math.min(eventChunk, eventReps - from),
      eventSessions,
      rows: options.events - inserted,
    });
    const [row] = await clickhouse.query<{ n: number }>(`SELECT toUInt64(count()) AS n FROM ${t.session_events} WHERE integration_id = {i:String}`, { i: BIG_INTEGRATION });
    inserted = Number(row?.n ?? 0);
    eventsTask.update(inserted);
  }
  eventsTask.done();
  await clickhouse.command(`DROP TABLE ${TPL_SESSIONS}`);
  await clickhouse.command(`DROP TABLE ${TPL_EVENTS}`);
  const [counts] = await clickhouse.query<{ sessions: number; events: number; items: number }>(
    `SELECT (SELECT toUInt64(count()) FROM ${t.sessions} WHERE integration_id = {i:String}) AS sessions,
            (SELECT toUInt64(count()) FROM ${t.session_events} WHERE integration_id = {i:String}) AS events,
            (SELECT toUInt64(sum(items)) FROM ${t.events_hourly} WHERE integration_id = {i:String}) AS items`,
    { i: BIG_INTEGRATION },
  );
  const seconds = round((performance.now() - started) / 1000, 1);
  log(`big integration: ${Number(counts?.events ?? 0).toLocaleString('en-US')} events (${Number(counts?.items ?? 0).toLocaleString('en-US')} timeline entries) in ${seconds} s total`);
  return { integrationId: BIG_INTEGRATION, sessions: Number(counts?.sessions ?? 0), events: Number(counts?.events ?? 0), items: Number(counts?.items ?? 0), startMs, endMs, seconds };
}
