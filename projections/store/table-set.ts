/**
 * Every projection table belongs to a generation. Reads go to the serving
 * generation; a rebuild fills the next one from the earliest offsets while the
 * old one keeps serving, then the pointer moves. Names come from this code,
 * never from input, so composing identifiers here is safe.
 */
export const TABLES = ['sessions', 'session_events', 'events_hourly', 'events_hourly_mv', 'user_sessions', 'course_sessions'] as const;
export type TableKey = (typeof TABLES)[number];
export type TableNames = Readonly<Record<TableKey, string>>;

export function tableNames(generation: number): TableNames {
  if (!Number.isInteger(generation) || generation < 1) throw new Error(`invalid generation ${generation}`);
  const suffix = generation === 1 ? '' : `_g${generation}`;
  return Object.fromEntries(TABLES.map((t) => [t, `${t}${suffix}`])) as Record<TableKey, string>;
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
