import type { TableDefinition } from '../store/table-set.js';

/**
 * One row per (LMS user, session), replaced as the session changes; tombstoned
 * when a session is re-identified as another user or its created_at moves.
 */
export const userSessionsTable: TableDefinition = {
  key: 'user_sessions',
  shardBy: 'cityHash64(integration_id, session_id)',
  serves:
    'GET /v1/users/{userId}/sessions (newest first, cursor on (created_at, session_id)); ' +
    'GET /v1/users (GROUP BY user_id in key order, cursor on user_id: session count, first/last seen, flagged count).',
  create: (t) => `
    CREATE TABLE IF NOT EXISTS ${t.user_sessions} (
      integration_id LowCardinality(String),
      user_id String,
      created_at DateTime64(3, 'UTC'),
      session_id String,
      updated_at DateTime64(3, 'UTC'),
      user_name String,
      user_url String,
      status LowCardinality(String),
      bot_score Nullable(Float64),
      version UInt64,
      is_deleted UInt8 DEFAULT 0
    )
    ENGINE = ReplacingMergeTree(version, is_deleted)
    ORDER BY (integration_id, user_id, created_at, session_id)`,
};
