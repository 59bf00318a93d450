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
  'event_id',
  'event_at',
  'event_type',
  'item_at',
  'item_kind',
  'item_page_url',
  'item_attributes',
  'src_partition',
  'src_offset',
] as const;

/** A JSON-holding column's value: the insert writes it as JSON text (see SESSION_SETTINGS). */
type JsonObject = Readonly<Record<string, unknown>>;
const NO_ATTRIBUTES: JsonObject = Object.freeze({});

/**
 * An event's timeline entries as the four parallel columns item_at, item_kind,
 * item_page_url ('' for none) and item_attributes (objects, stored as JSON
 * text): one entry for a lifecycle event, one per activity item for
 * session.activity (each with its own time and page). Filled directly, with no
 * object per entry: this runs for every event the projector writes.
 */
function timelineColumns(event: SessionEvent): [string[], string[], string[], JsonObject[]] {
  if (event.type === 'session.activity') {
    const activities = event.data.activities;
    const at: string[] = [];
    const kind: string[] = [];
    const pageUrl: string[] = [];
    const attributes: JsonObject[] = [];
    for (const a of activities) {
      at.push(a.at);
      kind.push(a.kind);
      pageUrl.push(a.pageUrl ?? '');
      attributes.push(a.attributes ?? NO_ATTRIBUTES);
    }
    return [at, kind, pageUrl, attributes];
  }
  const pageUrl = event.type === 'session.started' || event.type === 'session.page_viewed' ? event.data.pageUrl : '';
  return [[event.occurredAt], [lifecycleKind(event.type)], [pageUrl], [timelineAttributes(event)]];
}

/**
 * The timeline row of one event, as positional values in SESSION_EVENT_COLUMNS
 * order (it feeds a JSONCompactEachRow insert), its entries as parallel arrays.
 */
export function sessionEventValues(event: SessionEvent, source: SourcePosition): unknown[] {
  const [at, kind, pageUrl, attributes] = timelineColumns(event);
  return [event.integrationId, event.sessionId, event.eventId, event.occurredAt, event.type, at, kind, pageUrl, attributes, source.partition, source.offset];
}

/** The same row as an object keyed by column (fixtures and bulk builders, where clarity beats speed). */
export function sessionEventRow(event: SessionEvent, source: SourcePosition): Row {
  const values = sessionEventValues(event, source);
  return Object.fromEntries(SESSION_EVENT_COLUMNS.map((column, i) => [column, values[i]]));
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
