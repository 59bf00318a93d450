import type { SessionEvent } from '../../schemas/events/session-events.js';
import type { Row } from '../store/clickhouse-gateway.js';

export interface SourcePosition {
  partition: number;
  offset: string;
}

/** Lifecycle events are timeline entries of their own; `kind` names them without the `session.` prefix. */
const lifecycleKind = (type: SessionEvent['type']): string => type.slice('session.'.length);

/**
 * The timeline rows of one event: one row for a lifecycle event, one per
 * activity item for session.activity (each with its own time and page).
 */
export function sessionEventRows(event: SessionEvent, source: SourcePosition): Row[] {
  const base = {
    integration_id: event.integrationId,
    session_id: event.sessionId,
    event_id: event.eventId,
    event_type: event.type,
    event_at: event.occurredAt,
    src_partition: source.partition,
    src_offset: source.offset,
  };
  switch (event.type) {
    case 'session.activity':
      return event.data.activities.map((a, seq) => ({
        ...base,
        occurred_at: a.at,
        seq,
        kind: a.kind,
        page_url: a.pageUrl ?? '',
        attributes: JSON.stringify(a.attributes ?? {}),
      }));
    case 'session.started':
    case 'session.page_viewed':
      return [{ ...base, occurred_at: event.occurredAt, seq: 0, kind: lifecycleKind(event.type), page_url: event.data.pageUrl, attributes: JSON.stringify(timelineAttributes(event)) }];
    default:
      return [{ ...base, occurred_at: event.occurredAt, seq: 0, kind: lifecycleKind(event.type), page_url: '', attributes: JSON.stringify(timelineAttributes(event)) }];
  }
}

/** What the timeline shows about a lifecycle event beyond its kind and time. */
function timelineAttributes(event: Exclude<SessionEvent, { type: 'session.activity' }>): Record<string, unknown> {
  switch (event.type) {
    case 'session.started':
      return { userAgentSummary: event.data.userAgentSummary, ...(event.data.referrer ? { referrer: event.data.referrer } : {}) };
    case 'session.page_viewed':
      return event.data.title ? { title: event.data.title } : {};
    case 'session.scored':
      return { botScore: event.data.botScore, status: event.data.status, detectionFlags: event.data.detectionFlags, modelVersion: event.data.modelVersion };
    case 'session.identified':
      return { userId: event.data.userId };
    case 'session.ended':
      return { reason: event.data.reason };
  }
}
