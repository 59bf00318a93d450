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
  // One literal per row, no spread: this runs for every activity item (about 8 rows per event), and
  // spreading a shared base per row was the projector's costliest function of its own.
  const row = (occurredAt: string, seq: number, kind: string, pageUrl: string, attributes: string): Row => ({
    integration_id: event.integrationId,
    session_id: event.sessionId,
    occurred_at: occurredAt,
    event_id: event.eventId,
    seq,
    event_at: event.occurredAt,
    event_type: event.type,
    kind,
    page_url: pageUrl,
    attributes,
    src_partition: source.partition,
    src_offset: source.offset,
  });
  switch (event.type) {
    case 'session.activity':
      return event.data.activities.map((a, seq) => row(a.at, seq, a.kind, a.pageUrl ?? '', a.attributes ? JSON.stringify(a.attributes) : '{}'));
    case 'session.started':
    case 'session.page_viewed':
      return [row(event.occurredAt, 0, lifecycleKind(event.type), event.data.pageUrl, JSON.stringify(timelineAttributes(event)))];
    default:
      return [row(event.occurredAt, 0, lifecycleKind(event.type), '', JSON.stringify(timelineAttributes(event)))];
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
