import type { SessionEvent } from '../../schemas/events/session-events.js';
import type { Row } from '../store/clickhouse-gateway.js';

export interface SourcePosition {
  partition: number;
  offset: string;
}

/** Lifecycle events are timeline entries of their own; `kind` names them without the `session.` prefix. */
const lifecycleKind = (type: SessionEvent['type']): string => type.slice('session.'.length);

/** The columns of a timeline row, in the order sessionEventValues writes them. */
export const SESSION_EVENT_COLUMNS = [
  'integration_id',
  'session_id',
  'occurred_at',
  'event_id',
  'seq',
  'event_at',
  'event_type',
  'kind',
  'page_url',
  'attributes',
  'src_partition',
  'src_offset',
] as const;

/**
 * The timeline rows of one event, as positional values in SESSION_EVENT_COLUMNS
 * order: one row for a lifecycle event, one per activity item for
 * session.activity (each with its own time and page). Positional, not objects:
 * this runs for about eight rows per event and feeds a JSONCompactEachRow insert.
 */
export function sessionEventValues(event: SessionEvent, source: SourcePosition): unknown[][] {
  const row = (occurredAt: string, seq: number, kind: string, pageUrl: string, attributes: string): unknown[] => [
    event.integrationId,
    event.sessionId,
    occurredAt,
    event.eventId,
    seq,
    event.occurredAt,
    event.type,
    kind,
    pageUrl,
    attributes,
    source.partition,
    source.offset,
  ];
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

/** The same rows as objects keyed by column (fixtures and bulk builders, where clarity beats speed). */
export function sessionEventRows(event: SessionEvent, source: SourcePosition): Row[] {
  return sessionEventValues(event, source).map((values) => Object.fromEntries(SESSION_EVENT_COLUMNS.map((column, i) => [column, values[i]])));
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
