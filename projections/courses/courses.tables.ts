import type { TableDefinition } from '../store/table-set.js';

/** One row per (course, session) for every LMS course a session visited; replaced as the session changes. */
export const courseSessionsTable: TableDefinition = {
  key: 'course_sessions',
  shardBy: 'cityHash64(integration_id, session_id)',
  serves:
    'GET /v1/courses (GROUP BY course_key in key order, cursor on course_key: sessions, distinct users, flagged, last seen); ' +
    'the course filter of GET /v1/sessions.',
  create: (t) => `
    CREATE TABLE IF NOT EXISTS ${t.course_sessions} (
      integration_id LowCardinality(String),
      course_key String,
      session_id String,
      platform LowCardinality(String),
      course_id String,
      host String,
      user_id String,
      status LowCardinality(String),
      created_at DateTime64(3, 'UTC'),
      updated_at DateTime64(3, 'UTC'),
      version UInt64
    )
    ENGINE = ReplacingMergeTree(version)
    ORDER BY (integration_id, course_key, session_id)`,
};
