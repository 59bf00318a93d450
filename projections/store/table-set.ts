import { generationSuffix, toGenerations, type Generations, type ProjectionName } from './generations.js';

/**
 * Every projection table belongs to one projection and carries that
 * projection's generation in its name. Reads go to the serving generations; a
 * rebuild fills new ones from the earliest offsets while the old ones keep
 * serving, then the pointers move. Names come from this code, never from
 * input, so composing identifiers here is safe.
 */
export const TABLES = ['sessions', 'session_events', 'events_hourly', 'events_hourly_mv', 'user_sessions', 'course_sessions'] as const;
export type TableKey = (typeof TABLES)[number];
export type TableNames = Readonly<Record<TableKey, string>>;

export const TABLE_OWNERS: Readonly<Record<TableKey, ProjectionName>> = {
  sessions: 'sessions',
  session_events: 'session-events',
  events_hourly: 'analytics',
  events_hourly_mv: 'analytics',
  user_sessions: 'users',
  course_sessions: 'courses',
};

export function tableNames(generations: number | Generations): TableNames {
  const g = toGenerations(generations);
  const names = Object.fromEntries(TABLES.map((t) => [t, `${t}${generationSuffix(g[TABLE_OWNERS[t]])}`])) as Record<TableKey, string>;
  // The view joins two projections (session_events into events_hourly). Its name carries both generations,
  // so moving either one makes a new view and leaves the old one to be dropped, never silently reused.
  if (g['session-events'] !== g.analytics) names.events_hourly_mv = `${names.events_hourly_mv}_from_g${g['session-events']}`;
  return names;
}

/** One CREATE statement with what it serves, so the schema documents itself. */
export interface TableDefinition {
  key: TableKey;
  /** The queries this table exists to answer. */
  serves: string;
  /**
   * On a cluster, the Distributed sharding key. Every row of one session goes
   * to one shard, so ReplacingMergeTree and FINAL see all versions of a row
   * together. Absent for materialized views, which run on each shard.
   */
  shardBy?: string;
  create(names: TableNames): string;
}
