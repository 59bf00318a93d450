import type { TableNames } from '../../projections/store/table-set.js';

/**
 * The timeline as versions before 2026-12-02 created it (one row per entry)
 * and its hourly view: what the schema check and the upgrade path are tested
 * against.
 */
export const oldTimelineTable = (name: string): string => `CREATE TABLE ${name} (
  integration_id LowCardinality(String), session_id String, occurred_at DateTime64(3, 'UTC'), event_id String, seq UInt16,
  event_at DateTime64(3, 'UTC'), event_type LowCardinality(String), kind LowCardinality(String), page_url String,
  attributes String, src_partition UInt32, src_offset UInt64
) ENGINE = ReplacingMergeTree ORDER BY (integration_id, session_id, occurred_at, event_id, seq)`;

export const oldHourlyView = (names: TableNames): string => `CREATE MATERIALIZED VIEW ${names.events_hourly_mv} TO ${names.events_hourly} AS
  SELECT integration_id, toStartOfHour(event_at) AS hour, event_type, kind, countIf(seq = 0) AS events, count() AS items
  FROM ${names.session_events} GROUP BY integration_id, hour, event_type, kind`;
