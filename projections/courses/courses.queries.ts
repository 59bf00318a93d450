import type { CourseListFilters, CourseResource } from '../../schemas/api/courses.js';
import type { ParamValue } from '../store/clickhouse-gateway.js';
import { FLAGGED_STATUSES, type ClickHouseReadModel } from '../users/users.queries.js';
import type { LmsPlatform } from './course-url.js';

export interface CourseRow {
  course_key: string;
  course_platform: LmsPlatform;
  course_native_id: string;
  course_host: string;
  session_count: number;
  user_count: number;
  flagged_session_count: number;
  first_seen_at: string;
  last_seen_at: string;
}

export function courseFromRow(row: CourseRow): CourseResource {
  return {
    id: row.course_key,
    platform: row.course_platform,
    courseId: row.course_native_id,
    host: row.course_host,
    sessionCount: row.session_count,
    userCount: row.user_count,
    flaggedSessionCount: row.flagged_session_count,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
  };
}

/**
 * Courses in course_key order, after `afterKey`. course_sessions is sorted by
 * (integration_id, course_key, session_id), so groups stream out in key order
 * (optimize_aggregation_in_order) and the LIMIT ends the scan early. The key
 * starts with the platform, so the platform filter is also a key prefix.
 * Aliases differ from column names because ClickHouse resolves aliases in
 * WHERE too, and `platform = ...` must mean the column, not any(platform).
 */
export async function listCourses(
  model: ClickHouseReadModel,
  integrationId: string,
  filters: CourseListFilters,
  afterKey: string | null,
  limit: number,
): Promise<CourseRow[]> {
  const where = ['integration_id = {integrationId:String}'];
  const params: Record<string, ParamValue> = { integrationId, limit, flaggedStatuses: [...FLAGGED_STATUSES] };
  if (afterKey !== null) (where.push('course_key > {afterKey:String}'), (params.afterKey = afterKey));
  if (filters.platform) {
    where.push('startsWith(course_key, {keyPrefix:String})', 'platform = {platform:String}');
    params.keyPrefix = `${filters.platform}:`;
    params.platform = filters.platform;
  }
  return model.clickhouse.query<CourseRow>(
    `SELECT course_key,
            any(platform) AS course_platform,
            any(course_id) AS course_native_id,
            any(host) AS course_host,
            toUInt32(count()) AS session_count,
            toUInt32(uniqExactIf(user_id, user_id != '')) AS user_count,
            toUInt32(countIf(status IN {flaggedStatuses:Array(String)})) AS flagged_session_count,
            min(created_at) AS first_seen_at,
            max(updated_at) AS last_seen_at
     FROM ${model.tables.course_sessions} FINAL
     WHERE ${where.join(' AND ')}
     GROUP BY course_key
     ORDER BY course_key
     LIMIT {limit:UInt32}
     SETTINGS optimize_aggregation_in_order = 1`,
    params,
  );
}
