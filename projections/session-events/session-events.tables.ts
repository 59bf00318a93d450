import type { TableDefinition } from '../store/table-set.js';

/**
 * One row per event; its timeline entries are the parallel `item_*` arrays: one
 * entry for a lifecycle event, one per activity item of a session.activity batch
 * (entry n has seq n-1). A row per event rather than per entry keeps the
 * projector's insert to one row per event, about eight times fewer rows to
 * encode and parse; readers expand the arrays with ARRAY JOIN, within one
 * session's rows. `src_partition`/`src_offset` record where the event was first
 * read, which tells a replay of the same message apart from a duplicate publish
 * of the same event id.
 */
export const sessionEventsTable: TableDefinition = {
  key: 'session_events',
  shardBy: 'cityHash64(integration_id, session_id)',
  serves:
    'GET /v1/sessions/{id}/events (time order, cursor on (occurred_at, event_id, seq)); ' +
    'GET /v1/sessions/{id}/details (timeline, counts by kind, page history); the projector\'s "seen before?" check.',
  create: (t) => `
    CREATE TABLE IF NOT EXISTS ${t.session_events} (
      integration_id LowCardinality(String),
      session_id String,
      event_id String,
      event_at DateTime64(3, 'UTC'),
      event_type LowCardinality(String),
      item_at Array(DateTime64(3, 'UTC')),
      item_kind Array(LowCardinality(String)),
      item_page_url Array(String),
      item_attributes Array(String),
      src_partition UInt32,
      src_offset UInt64
    )
    ENGINE = ReplacingMergeTree
    ORDER BY (integration_id, session_id, event_id)`,
};

/**
 * Hourly event counts, pre-aggregated by a materialized view, bucketed by the
 * event's own occurredAt (`event_at`), so an activity batch sent just after an
 * hour boundary counts in that hour whatever its items' times. Exact because the
 * projector inserts an event into session_events only the first time it sees it.
 */
export const eventsHourlyTable: TableDefinition = {
  key: 'events_hourly',
  shardBy: 'cityHash64(integration_id)',
  serves: 'GET /v1/analytics event series and totals (hour/day/week buckets, breakdown by kind); GET /v1/stats cross-checks.',
  create: (t) => `
    CREATE TABLE IF NOT EXISTS ${t.events_hourly} (
      integration_id LowCardinality(String),
      hour DateTime('UTC'),
      event_type LowCardinality(String),
      kind LowCardinality(String),
      events UInt64,
      items UInt64
    )
    ENGINE = SummingMergeTree((events, items))
    ORDER BY (integration_id, hour, event_type, kind)`,
};

export const eventsHourlyView: TableDefinition = {
  key: 'events_hourly_mv',
  serves: 'feeds events_hourly from every insert into session_events',
  create: (t) => `
    CREATE MATERIALIZED VIEW IF NOT EXISTS ${t.events_hourly_mv} TO ${t.events_hourly} AS
    SELECT integration_id, toStartOfHour(event_at) AS hour, event_type, kind,
           countIf(n = 1) AS events, count() AS items
    FROM ${t.session_events}
    ARRAY JOIN item_kind AS kind, arrayEnumerate(item_kind) AS n
    GROUP BY integration_id, hour, event_type, kind`,
};
