import { eventKey } from '../../schemas/events/decode.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { Topics } from '../../schemas/events/topics.js';
import { buildIntegrationProfile, pageFor, type IntegrationProfile, type SimCourse, type SimUser } from './lms.js';
import {
  activitiesBetween,
  choosePersona,
  DEFAULT_MIX,
  flagsFor,
  statusForScore,
  type Persona,
  type PersonaName,
  type SessionKind,
  type SessionMix,
} from './personas.js';
import { createRng, hashSeed, type Rng } from './rng.js';

/**
 * Deterministic scored-session traffic: the same options give the same
 * events, byte for byte, so tests can predict what the projections must show.
 * Timestamps come from a simulated clock that starts at `startAt`.
 */

export interface TrafficOptions {
  seed: number;
  integrationIds: readonly string[];
  startAt: Date;
  /** Relative weights of human / suspicious / bot sessions; defaults to 70/20/10. */
  mix?: Partial<SessionMix>;
  /** Shortcut for the bot weight; the rest keeps the default human:suspicious ratio. */
  botShare?: number;
  anonymousShare?: number;
  endedShare?: number;
  usersPerIntegration?: number;
  coursesPerIntegration?: number;
  /** Session arrivals per second of simulated time; the publisher ties it to its rate so simulated time tracks real time. */
  sessionsPerSecond?: number;
  /** How many sessions `messages()` interleaves at once. */
  concurrency?: number;
  modelVersion?: string;
}

export interface SimulatedSession {
  integrationId: string;
  sessionId: string;
  persona: PersonaName;
  kind: SessionKind;
  user: SimUser | null;
  course: SimCourse;
  finalScore: number;
  events: SessionEvent[];
}

export interface SimMessage {
  topic: string;
  key: string;
  value: string;
  event: SessionEvent;
}

export interface TrafficGenerator {
  readonly profiles: readonly IntegrationProfile[];
  nextSimulatedSession(): SimulatedSession;
  /** One whole session, its events in occurredAt order. */
  nextSession(): SessionEvent[];
  /** Endless messages for the sessions topic, several sessions interleaved, each session in order. */
  messages(): IterableIterator<SimMessage>;
}

export const DEFAULT_MODEL_VERSION = 'nai-2026.10.2';
/**
 * Measured mean length of a session under the default mix (a unit test keeps it
 * honest). Publishers divide their rate by it to pick `sessionsPerSecond`, so
 * the simulated clock runs at about wall-clock speed and timestamps stay
 * inside the decoder's accepted window however long the run.
 */
export const MEAN_EVENTS_PER_SESSION = 23;
const TIMEOUT_MS = 30 * 60 * 1000;

export function resolveMix(options: Pick<TrafficOptions, 'mix' | 'botShare'>): SessionMix {
  if (options.botShare !== undefined) {
    const rest = 1 - Math.min(1, Math.max(0, options.botShare));
    const humanPart = DEFAULT_MIX.human / (DEFAULT_MIX.human + DEFAULT_MIX.suspicious);
    return { human: rest * humanPart, suspicious: rest * (1 - humanPart), bot: 1 - rest };
  }
  return { ...DEFAULT_MIX, ...options.mix };
}

export function toMessage(event: SessionEvent): SimMessage {
  return { topic: Topics.sessions, key: eventKey(event), value: JSON.stringify(event), event };
}

const iso = (ms: number): string => new Date(Math.floor(ms)).toISOString();
const round3 = (value: number): number => Math.round(Math.min(1, Math.max(0, value)) * 1000) / 1000;

interface SessionContext {
  mix: SessionMix;
  anonymousShare: number;
  endedShare: number;
  modelVersion: string;
}

/** Moments (epoch ms) at which the scoring tier re-scores: spread over the activity flushes, always after the last. */
function scoringMoments(flushes: readonly number[], rng: Rng): number[] {
  if (flushes.length === 0) return [];
  const count = Math.min(flushes.length, rng.int(2, 5));
  return Array.from({ length: count }, (_, k) => {
    const flush = flushes[Math.round(((k + 1) * flushes.length) / count) - 1] ?? flushes[flushes.length - 1] ?? 0;
    return flush + rng.int(150, 900);
  });
}

/** Scores start uncertain and converge on the final verdict; the last one is exactly it. */
function scoreAt(first: number, final: number, k: number, count: number, rng: Rng): number {
  if (k === count - 1) return final;
  const progress = count === 1 ? 1 : k / (count - 1);
  return round3(first + (final - first) * (1 - (1 - progress) ** 2) + rng.float(-0.04, 0.04));
}

function buildSession(profile: IntegrationProfile, sessionId: string, startMs: number, persona: Persona, rng: Rng, ctx: SessionContext): SimulatedSession {
  const { integrationId } = profile;
  const events: SessionEvent[] = [];
  const envelope = (at: number) => ({ eventId: `evt_${rng.token(26)}`, schemaVersion: 1 as const, integrationId, sessionId, occurredAt: iso(at) });
  const course = rng.pick(profile.courses);
  // A few students account for many sessions, as in any real course.
  const user = rng.chance(ctx.anonymousShare) ? null : (profile.users[Math.floor(profile.users.length * rng.next() ** 2)] ?? null);

  const firstPage = pageFor(course, rng);
  events.push({
    ...envelope(startMs),
    type: 'session.started',
    data: { pageUrl: firstPage.url, userAgentSummary: rng.pick(persona.userAgents), ...(rng.chance(0.4) ? { referrer: `${course.base}/` } : {}) },
  });
  if (user) events.push({ ...envelope(startMs + rng.int(400, 5_000)), type: 'session.identified', data: { ...user } });

  const flushes: number[] = [];
  let t = startMs;
  const pageCount = rng.int(persona.pages[0], persona.pages[1]);
  for (let i = 0; i < pageCount; i += 1) {
    const page = i === 0 ? firstPage : pageFor(course, rng);
    if (i > 0) events.push({ ...envelope(t), type: 'session.page_viewed', data: { pageUrl: page.url, title: page.title } });
    const dwell = rng.int(persona.dwellMs[0], persona.dwellMs[1]);
    const batches = dwell > 20_000 ? rng.int(2, 3) : 1;
    for (let b = 0; b < batches; b += 1) {
      const from = t + (dwell * b) / batches;
      const to = t + (dwell * (b + 1)) / batches;
      const activities = activitiesBetween(persona, rng, from, to, page.url);
      if (activities.length === 0) continue;
      events.push({ ...envelope(to), type: 'session.activity', data: { activities } });
      flushes.push(to);
    }
    t += dwell;
  }

  const first = rng.float(persona.firstScore[0], persona.firstScore[1]);
  const final = round3(rng.float(persona.finalScore[0], persona.finalScore[1]));
  const flags = flagsFor(persona, rng);
  const moments = scoringMoments(flushes.length > 0 ? flushes : [t], rng);
  moments.forEach((at, k) => {
    const botScore = scoreAt(first, final, k, moments.length, rng);
    // Evidence accumulates: later verdicts cite more of the flags.
    const shown = flags.slice(0, Math.ceil((flags.length * (k + 1)) / moments.length));
    events.push({ ...envelope(at), type: 'session.scored', data: { botScore, status: statusForScore(botScore), detectionFlags: shown, modelVersion: ctx.modelVersion } });
  });

  if (rng.chance(ctx.endedShare)) {
    const reason = rng.weighted({ closed: 6, navigated_away: 3, timeout: 1 });
    const lastAt = Math.max(t, ...moments);
    events.push({ ...envelope(lastAt + (reason === 'timeout' ? TIMEOUT_MS : rng.int(200, 5_000))), type: 'session.ended', data: { reason } });
  }
  // Stable sort: on equal timestamps session.started stays first.
  events.sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
  return { integrationId, sessionId, persona: persona.name, kind: persona.kind, user, course, finalScore: final, events };
}

export function createTrafficGenerator(options: TrafficOptions): TrafficGenerator {
  if (options.integrationIds.length === 0) throw new RangeError('at least one integration id is needed');
  const profiles = options.integrationIds.map((id, index) =>
    buildIntegrationProfile(id, index, createRng(hashSeed(id, options.seed >>> 0)), {
      users: options.usersPerIntegration ?? 40,
      courses: options.coursesPerIntegration ?? 12,
    }),
  );
  const ctx: SessionContext = {
    mix: resolveMix(options),
    anonymousShare: options.anonymousShare ?? 0.25,
    endedShare: options.endedShare ?? 0.9,
    modelVersion: options.modelVersion ?? DEFAULT_MODEL_VERSION,
  };
  const rng = createRng(options.seed);
  // Interleaving draws from its own stream, so the concurrency never changes session contents.
  const interleave = rng.fork('interleave');
  const meanGapMs = 1000 / Math.max(1e-6, options.sessionsPerSecond ?? 2);
  let clock = options.startAt.getTime();
  let started = 0;

  const nextSimulatedSession = (): SimulatedSession => {
    if (started > 0) clock += rng.exponential(meanGapMs);
    started += 1;
    const profile = rng.pick(profiles);
    const persona = choosePersona(rng, ctx.mix);
    const sessionId = `ses_${rng.token(26)}`;
    return buildSession(profile, sessionId, clock, persona, rng.fork(sessionId), ctx);
  };

  function* messages(): IterableIterator<SimMessage> {
    const concurrency = Math.max(1, options.concurrency ?? 16);
    const active: { events: SessionEvent[]; next: number }[] = [];
    for (;;) {
      while (active.length < concurrency) active.push({ events: nextSimulatedSession().events, next: 0 });
      const slot = interleave.int(0, active.length - 1);
      const cursor = active[slot];
      if (cursor === undefined) continue;
      const event = cursor.events[cursor.next];
      cursor.next += 1;
      if (cursor.next >= cursor.events.length) active.splice(slot, 1);
      if (event !== undefined) yield toMessage(event);
    }
  }

  return { profiles, nextSimulatedSession, nextSession: () => nextSimulatedSession().events, messages };
}
