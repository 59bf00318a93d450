import type { Row } from '../store/clickhouse-gateway.js';
import { sessionStatus, type SessionState } from '../sessions/session-state.js';

function userSessionRow(state: SessionState, version: number, isDeleted: 0 | 1): Row | null {
  if (state.identity === null) return null;
  return {
    integration_id: state.integrationId,
    user_id: state.identity.userId,
    created_at: state.createdAt,
    session_id: state.sessionId,
    updated_at: state.updatedAt,
    user_name: state.identity.userName ?? '',
    user_url: state.identity.userUrl ?? '',
    status: sessionStatus(state),
    bot_score: state.score?.botScore ?? null,
    version,
    is_deleted: isDeleted,
  };
}

/**
 * Rows for user_sessions. A session re-identified as another user, or whose
 * created_at moved, leaves a tombstone at its old key.
 */
export function userSessionRows(prior: SessionState | null, next: SessionState, version: number): Row[] {
  const rows: Row[] = [];
  const live = userSessionRow(next, version, 0);
  if (live) rows.push(live);
  if (prior?.identity) {
    const moved = prior.identity.userId !== next.identity?.userId || prior.createdAt !== next.createdAt;
    const tombstone = moved ? userSessionRow(prior, version, 1) : null;
    if (tombstone) rows.push(tombstone);
  }
  return rows;
}
