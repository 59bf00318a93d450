import { extractCourse } from '../../projections/courses/course-url.js';
import { SESSION_EVENT_TYPES } from '../../schemas/events/envelope.js';
import { SESSION_STATUSES, type SessionEvent, type SessionStatus } from '../../schemas/events/session-events.js';

/**
 * What the read model must show after consuming a set of session events,
 * computed straight from the events: the oracle for end-to-end and replay tests.
 * Duplicated events (same eventId) count once, as the projections count them.
 */

type SessionEventType = (typeof SESSION_EVENT_TYPES)[number];

export interface IntegrationTotals {
  sessions: number;
  identifiedSessions: number;
  endedSessions: number;
  users: number;
  courses: number;
  eventsByType: Record<SessionEventType, number>;
  /** Sessions by their latest verdict (latest by occurredAt, then eventId); never scored counts as `unscored`. */
  latestStatus: Record<SessionStatus, number>;
}

export interface TrafficTotals {
  events: number;
  sessions: number;
  byIntegration: Record<string, IntegrationTotals>;
}

interface SessionFacts {
  identified: boolean;
  ended: boolean;
  latest: { at: number; eventId: string; status: SessionStatus } | null;
}

interface Accumulator {
  sessions: Map<string, SessionFacts>;
  users: Set<string>;
  courses: Set<string>;
  eventsByType: Record<SessionEventType, number>;
}

const zeroes = <K extends string>(keys: readonly K[]): Record<K, number> =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

function pageUrlsOf(event: SessionEvent): (string | undefined)[] {
  if (event.type === 'session.started' || event.type === 'session.page_viewed') return [event.data.pageUrl];
  if (event.type === 'session.activity') return event.data.activities.map((a) => a.pageUrl);
  return [];
}

function record(acc: Accumulator, event: SessionEvent): void {
  acc.eventsByType[event.type] += 1;
  const facts = acc.sessions.get(event.sessionId) ?? { identified: false, ended: false, latest: null };
  acc.sessions.set(event.sessionId, facts);
  for (const url of pageUrlsOf(event)) {
    const course = url === undefined ? null : extractCourse(url);
    if (course) acc.courses.add(course.key);
  }
  if (event.type === 'session.identified') {
    facts.identified = true;
    acc.users.add(event.data.userId);
  } else if (event.type === 'session.ended') {
    facts.ended = true;
  } else if (event.type === 'session.scored') {
    const at = Date.parse(event.occurredAt);
    const latest = facts.latest;
    if (latest === null || at > latest.at || (at === latest.at && event.eventId > latest.eventId)) {
      facts.latest = { at, eventId: event.eventId, status: event.data.status };
    }
  }
}

export function expectedTotals(events: Iterable<SessionEvent>): TrafficTotals {
  const seen = new Set<string>();
  const byIntegration = new Map<string, Accumulator>();
  for (const event of events) {
    if (seen.has(event.eventId)) continue;
    seen.add(event.eventId);
    let acc = byIntegration.get(event.integrationId);
    if (acc === undefined) {
      acc = { sessions: new Map(), users: new Set(), courses: new Set(), eventsByType: zeroes(SESSION_EVENT_TYPES) };
      byIntegration.set(event.integrationId, acc);
    }
    record(acc, event);
  }

  const totals: TrafficTotals = { events: seen.size, sessions: 0, byIntegration: {} };
  for (const [integrationId, acc] of byIntegration) {
    const facts = [...acc.sessions.values()];
    const latestStatus = zeroes(SESSION_STATUSES);
    for (const f of facts) latestStatus[f.latest?.status ?? 'unscored'] += 1;
    totals.sessions += facts.length;
    totals.byIntegration[integrationId] = {
      sessions: facts.length,
      identifiedSessions: facts.filter((f) => f.identified).length,
      endedSessions: facts.filter((f) => f.ended).length,
      users: acc.users.size,
      courses: acc.courses.size,
      eventsByType: acc.eventsByType,
      latestStatus,
    };
  }
  return totals;
}
