import type { SessionEvent, SessionStatus } from '../../schemas/events/session-events.js';
import { extractCourse } from '../courses/course-url.js';

/**
 * The folded state of one session. Every field is a lattice (earliest-wins,
 * latest-wins by (occurredAt, eventId), bounded set union), so folding is
 * idempotent, commutative and associative: duplicates change nothing and every
 * arrival order converges to the same state. That is what lets a batch be
 * replayed after a crash, and two copies of a state be merged safely.
 */
export interface Stamp {
  at: string;
  eventId: string;
}

export interface SessionState {
  integrationId: string;
  sessionId: string;
  /** Earliest occurredAt of any of the session's events. */
  createdAt: string;
  /** Latest occurredAt of any of the session's events. */
  updatedAt: string;
  started: (Stamp & { pageUrl: string; userAgentSummary: string }) | null;
  /** Earliest page seen, the landing page when session.started is missing. */
  firstPage: (Stamp & { pageUrl: string }) | null;
  score: (Stamp & { botScore: number; status: Exclude<SessionStatus, 'unscored'>; detectionFlags: string[]; modelVersion: string }) | null;
  identity: (Stamp & { userId: string; userName: string | null; userUrl: string | null }) | null;
  ended: (Stamp & { reason: string }) | null;
  /** Course keys of the LMS courses the session visited, sorted, at most MAX_COURSES. */
  courses: string[];
}

export const MAX_COURSES_PER_SESSION = 16;

/** Total order on stamps: time first, then event id so equal timestamps still pick one winner everywhere. */
export function compareStamps(a: Stamp, b: Stamp): number {
  const ta = Date.parse(a.at);
  const tb = Date.parse(b.at);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

function latest<T extends Stamp>(a: T | null, b: T | null): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareStamps(b, a) > 0 ? b : a;
}

function earliest<T extends Stamp>(a: T | null, b: T | null): T | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareStamps(b, a) < 0 ? b : a;
}

const minIso = (a: string, b: string): string => (Date.parse(b) < Date.parse(a) ? b : a);
const maxIso = (a: string, b: string): string => (Date.parse(b) > Date.parse(a) ? b : a);

function unionCourses(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort().slice(0, MAX_COURSES_PER_SESSION);
}

/** Canonical ISO form so that equal instants compare equal as strings too. */
export function canonicalIso(iso: string): string {
  return new Date(Date.parse(iso)).toISOString();
}

/** The join of two states of the same session. */
export function mergeStates(a: SessionState, b: SessionState): SessionState {
  return {
    integrationId: a.integrationId,
    sessionId: a.sessionId,
    createdAt: minIso(a.createdAt, b.createdAt),
    updatedAt: maxIso(a.updatedAt, b.updatedAt),
    started: earliest(a.started, b.started),
    firstPage: earliest(a.firstPage, b.firstPage),
    score: latest(a.score, b.score),
    identity: latest(a.identity, b.identity),
    ended: earliest(a.ended, b.ended),
    courses: unionCourses(a.courses, b.courses),
  };
}

function coursesOf(urls: readonly (string | undefined)[]): string[] {
  const keys: string[] = [];
  for (const url of urls) {
    if (url === undefined) continue;
    const course = extractCourse(url);
    if (course) keys.push(course.key);
  }
  return unionCourses([], keys);
}

/** The state that one event alone implies. */
export function stateOfEvent(event: SessionEvent): SessionState {
  const at = canonicalIso(event.occurredAt);
  const stamp: Stamp = { at, eventId: event.eventId };
  const state: SessionState = {
    integrationId: event.integrationId,
    sessionId: event.sessionId,
    createdAt: at,
    updatedAt: at,
    started: null,
    firstPage: null,
    score: null,
    identity: null,
    ended: null,
    courses: [],
  };
  switch (event.type) {
    case 'session.started':
      state.started = { ...stamp, pageUrl: event.data.pageUrl, userAgentSummary: event.data.userAgentSummary };
      state.firstPage = { ...stamp, pageUrl: event.data.pageUrl };
      state.courses = coursesOf([event.data.pageUrl]);
      break;
    case 'session.page_viewed':
      state.firstPage = { ...stamp, pageUrl: event.data.pageUrl };
      state.courses = coursesOf([event.data.pageUrl]);
      break;
    case 'session.activity':
      state.courses = coursesOf(event.data.activities.map((a) => a.pageUrl));
      break;
    case 'session.scored':
      state.score = {
        ...stamp,
        botScore: event.data.botScore,
        status: event.data.status,
        detectionFlags: [...new Set(event.data.detectionFlags)].sort(),
        modelVersion: event.data.modelVersion,
      };
      break;
    case 'session.identified':
      state.identity = { ...stamp, userId: event.data.userId, userName: event.data.userName ?? null, userUrl: event.data.userUrl ?? null };
      break;
    case 'session.ended':
      state.ended = { ...stamp, reason: event.data.reason };
      break;
  }
  return state;
}

/** evolve(state, event): the fold step. A missing state is the event's own state. */
export function evolveSession(state: SessionState | null, event: SessionEvent): SessionState {
  const next = stateOfEvent(event);
  return state === null ? next : mergeStates(state, next);
}

export function sessionStatus(state: SessionState): SessionStatus {
  return state.score?.status ?? 'unscored';
}

/** Whether two states are the same value (used to skip writes that change nothing). */
export function sameState(a: SessionState | null, b: SessionState | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}
