import { CANONICAL_ISO } from '../../schemas/events/envelope.js';
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

/**
 * Orders two timestamps by instant: as text when both are canonical, parsed
 * otherwise (a stored state written by hand). Every time the fold keeps was
 * written by canonicalIso, and parsing both sides of every comparison was a
 * tenth of its time.
 */
function compareIso(a: string, b: string): number {
  if (a === b) return 0;
  if (CANONICAL_ISO.test(a) && CANONICAL_ISO.test(b)) return a < b ? -1 : 1;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return ta === tb ? 0 : ta < tb ? -1 : 1;
}

/** Total order on stamps: time first, then event id so equal timestamps still pick one winner everywhere. */
export function compareStamps(a: Stamp, b: Stamp): number {
  const byTime = compareIso(a.at, b.at);
  if (byTime !== 0) return byTime;
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

const minIso = (a: string, b: string): string => (compareIso(b, a) < 0 ? b : a);
const maxIso = (a: string, b: string): string => (compareIso(b, a) > 0 ? b : a);

/** Sorted, without duplicates and within the bound: what unionCourses returns. */
function isCanonicalCourses(keys: readonly string[]): boolean {
  if (keys.length > MAX_COURSES_PER_SESSION) return false;
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
  return true;
}

function unionCourses(a: readonly string[], b: readonly string[]): string[] {
  // Most events visit no course page: the other side is the union when it is already in canonical form.
  if (b.length === 0 && isCanonicalCourses(a)) return a as string[];
  if (a.length === 0 && isCanonicalCourses(b)) return b as string[];
  return [...new Set([...a, ...b])].sort().slice(0, MAX_COURSES_PER_SESSION);
}

/**
 * Canonical ISO form so that equal instants compare equal as strings too. Its
 * input is a timestamp the event schema accepted (a real date and time), which
 * in the canonical shape already is its own canonical form.
 */
export function canonicalIso(iso: string): string {
  return CANONICAL_ISO.test(iso) ? iso : new Date(Date.parse(iso)).toISOString();
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

/** Whether two JSON values are equal, whatever the order of their keys; a key holding undefined counts as absent, as in JSON. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const key in x) {
    if (x[key] === undefined) continue;
    defined++;
    if (!sameJson(x[key], y[key])) return false;
  }
  for (const key in y) if (y[key] !== undefined) defined--;
  return defined === 0;
}

/**
 * Whether two states are the same value (used to skip writes that change
 * nothing). Compared field by field: stringifying both, as this did, was a
 * third of the fold's time, twice per changed session per batch.
 */
export function sameState(a: SessionState | null, b: SessionState | null): boolean {
  if (a === null || b === null) return a === b;
  return sameJson(a, b);
}
