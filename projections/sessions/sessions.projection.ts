import type { Row } from '../store/clickhouse-gateway.js';
import { sessionStatus, type SessionState } from './session-state.js';

/** ClickHouse DateTime64 accepts ISO input (date_time_input_format=best_effort). */
function sessionRow(state: SessionState, version: number, isDeleted: 0 | 1): Row {
  return {
    integration_id: state.integrationId,
    session_id: state.sessionId,
    created_at: state.createdAt,
    updated_at: state.updatedAt,
    status: sessionStatus(state),
    bot_score: state.score?.botScore ?? null,
    detection_flags: state.score?.detectionFlags ?? [],
    model_version: state.score?.modelVersion ?? '',
    page_url: state.started?.pageUrl ?? state.firstPage?.pageUrl ?? '',
    user_agent_summary: state.started?.userAgentSummary ?? '',
    user_id: state.identity?.userId ?? '',
    user_name: state.identity?.userName ?? '',
    user_url: state.identity?.userUrl ?? '',
    course_keys: state.courses,
    ended_at: state.ended?.at ?? null,
    // Stored as its JSON text (see SESSION_SETTINGS): serialized once, in the insert's text.
    state,
    version,
    is_deleted: isDeleted,
  };
}

/**
 * Rows for the sessions table when a session goes from `prior` to `next`. The
 * sort key includes created_at, so when a late event moves it the old row is
 * tombstoned, or the session would be listed twice.
 */
export function sessionRows(prior: SessionState | null, next: SessionState, version: number): Row[] {
  const rows = [sessionRow(next, version, 0)];
  if (prior !== null && prior.createdAt !== next.createdAt) rows.push(sessionRow(prior, version, 1));
  return rows;
}
