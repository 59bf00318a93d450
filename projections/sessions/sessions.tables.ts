import type { TableDefinition } from '../store/table-set.js';

/**
 * Current state of every session: one live row per session, replaced on every
 * change (ReplacingMergeTree by `version`), with tombstones (`is_deleted`) when
 * a late event moves `created_at` and so the sort key.
 */
export const sessionsTable: TableDefinition = {
  key: 'sessions',
  shardBy: 'cityHash64(integration_id, session_id)',
  serves:
    'GET /v1/sessions (newest first, tuple cursor on (created_at, session_id), filters on status/score/flag/user/course/url); ' +
    'GET /v1/sessions/{id} when Redis misses (bloom index on session_id); session series in /v1/analytics.',
  create: (t) => `
    CREATE TABLE IF NOT EXISTS ${t.sessions} (
      integration_id LowCardinality(String),
      session_id String,
      created_at DateTime64(3, 'UTC'),
      updated_at DateTime64(3, 'UTC'),
      status LowCardinality(String),
      bot_score Nullable(Float64),
      detection_flags Array(LowCardinality(String)),
      model_version LowCardinality(String),
      page_url String,
      user_agent_summary String,
      user_id String,
      user_name String,
      user_url String,
      course_keys Array(String),
      ended_at Nullable(DateTime64(3, 'UTC')),
      state String CODEC(ZSTD(3)),
      version UInt64,
      is_deleted UInt8 DEFAULT 0,
      INDEX idx_session_id session_id TYPE bloom_filter(0.001) GRANULARITY 1,
      INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 2,
      INDEX idx_flags detection_flags TYPE bloom_filter(0.01) GRANULARITY 2,
      INDEX idx_courses course_keys TYPE bloom_filter(0.01) GRANULARITY 2
    )
    ENGINE = ReplacingMergeTree(version, is_deleted)
    ORDER BY (integration_id, created_at, session_id)`,
};
