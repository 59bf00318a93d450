import type { Row } from '../store/clickhouse-gateway.js';
import { sessionStatus, type SessionState } from '../sessions/session-state.js';
import { parseCourseKey } from './course-url.js';

/** One row per course the session visited; the set only grows, so no tombstones are needed. */
export function courseSessionRows(next: SessionState, version: number): Row[] {
  const rows: Row[] = [];
  for (const key of next.courses) {
    const course = parseCourseKey(key);
    if (course === null) continue;
    rows.push({
      integration_id: next.integrationId,
      course_key: key,
      session_id: next.sessionId,
      platform: course.platform,
      course_id: course.courseId,
      host: course.host,
      user_id: next.identity?.userId ?? '',
      status: sessionStatus(next),
      created_at: next.createdAt,
      updated_at: next.updatedAt,
      version,
    });
  }
  return rows;
}
