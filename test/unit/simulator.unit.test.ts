import { describe, expect, it } from 'vitest';
import { extractCourse, LMS_PLATFORMS } from '../../projections/courses/course-url.js';
import { decodeEvent, eventKey } from '../../schemas/events/decode.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { Topics } from '../../schemas/events/topics.js';
import { pageFor } from '../../services/simulator/lms.js';
import { MALFORMED_KINDS, malformedMessages } from '../../services/simulator/malformed.js';
import { statusForScore } from '../../services/simulator/personas.js';
import { createRng } from '../../services/simulator/rng.js';
import { expectedTotals } from '../../services/simulator/totals.js';
import { createTrafficGenerator, MEAN_EVENTS_PER_SESSION, type SimulatedSession, type TrafficOptions } from '../../services/simulator/traffic.js';

const START = new Date('2026-11-02T14:00:00.000Z');
const base: TrafficOptions = { seed: 42, integrationIds: ['int_acme_university', 'int_beta', 'int_gamma'], startAt: START };

function sessions(count: number, options: Partial<TrafficOptions> = {}): SimulatedSession[] {
  const generator = createTrafficGenerator({ ...base, ...options });
  return Array.from({ length: count }, () => generator.nextSimulatedSession());
}

function take<T>(iterator: Iterator<T>, count: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < count; i += 1) {
    const next = iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

const share = (list: readonly SimulatedSession[], test: (s: SimulatedSession) => boolean) => list.filter(test).length / list.length;
const lastScore = (events: readonly SessionEvent[]) => events.filter((e) => e.type === 'session.scored').at(-1);

describe('traffic generator', () => {
  const sample = sessions(3_000);

  it('gives the same events for the same seed, and different ones for another seed', () => {
    const a = take(createTrafficGenerator(base).messages(), 500).map((m) => m.value);
    const b = take(createTrafficGenerator(base).messages(), 500).map((m) => m.value);
    const c = take(createTrafficGenerator({ ...base, seed: 43 }).messages(), 500).map((m) => m.value);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('keeps session contents independent of how many sessions are interleaved', () => {
    const first = createTrafficGenerator(base).nextSimulatedSession();
    for (const concurrency of [1, 32]) {
      const events = take(createTrafficGenerator({ ...base, concurrency }).messages(), 5_000).map((m) => m.event);
      expect(events.filter((e) => e.sessionId === first.sessionId)).toEqual(first.events);
    }
  });

  it('produces only events that decode, keyed as eventKey says', () => {
    const now = () => START.getTime() + 6 * 3600_000;
    for (const session of sample.slice(0, 1_000)) {
      for (const event of session.events) {
        const decoded = decodeEvent(JSON.stringify(event), { now, key: eventKey(event) });
        expect(decoded.ok ? 'ok' : `${decoded.reason}: ${decoded.detail}`).toBe('ok');
      }
    }
  });

  it('orders each session: started first, time never goes back, ended last', () => {
    for (const { events, sessionId, integrationId } of sample) {
      expect(events[0]?.type).toBe('session.started');
      const times = events.map((e) => Date.parse(e.occurredAt));
      expect(times).toEqual([...times].sort((x, y) => x - y));
      const ended = events.findIndex((e) => e.type === 'session.ended');
      expect(ended === -1 || ended === events.length - 1).toBe(true);
      expect(new Set(events.map((e) => `${e.integrationId}/${e.sessionId}`))).toEqual(new Set([`${integrationId}/${sessionId}`]));
      expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    }
  });

  it('re-scores every session several times, each status agreeing with its score, the last one with the persona', () => {
    for (const session of sample) {
      const scores = session.events.filter((e) => e.type === 'session.scored');
      expect(scores.length).toBeGreaterThanOrEqual(1);
      for (const s of scores) expect(s.data.status).toBe(statusForScore(s.data.botScore));
      expect(lastScore(session.events)?.data.botScore).toBe(session.finalScore);
      expect(lastScore(session.events)?.data.status).toBe(session.kind);
    }
    expect(share(sample, (s) => s.events.filter((e) => e.type === 'session.scored').length >= 2)).toBeGreaterThan(0.8);
  });

  it('mixes humans, suspicious sessions and bots roughly 70/20/10 by default', () => {
    expect(share(sample, (s) => s.kind === 'human')).toBeCloseTo(0.7, 1);
    expect(share(sample, (s) => s.kind === 'suspicious')).toBeCloseTo(0.2, 1);
    expect(share(sample, (s) => s.kind === 'bot')).toBeCloseTo(0.1, 1);
    const styles = new Set(sample.filter((s) => s.kind === 'bot').map((s) => s.persona));
    expect([...styles].sort()).toEqual(['headless', 'instant_navigation', 'llm_agent', 'paste_heavy']);
  });

  it('follows a configured bot share', () => {
    const heavy = sessions(2_000, { botShare: 0.5 });
    expect(share(heavy, (s) => s.kind === 'bot')).toBeCloseTo(0.5, 1);
    expect(share(sessions(500, { mix: { human: 1, suspicious: 0, bot: 0 } }), (s) => s.kind === 'human')).toBe(1);
  });

  it('identifies most sessions from a stable user pool, and ends most of them', () => {
    expect(share(sample, (s) => s.user === null)).toBeCloseTo(0.25, 1);
    expect(share(sample, (s) => s.events.some((e) => e.type === 'session.ended'))).toBeCloseTo(0.9, 1);
    const first = createTrafficGenerator(base).profiles;
    const again = createTrafficGenerator({ ...base, botShare: 0.9, concurrency: 3 }).profiles;
    expect(again).toEqual(first);
    expect(new Set(first[0]?.users.map((u) => u.userId)).size).toBeGreaterThan(30);
    for (const session of sample) {
      const pool = first.find((p) => p.integrationId === session.integrationId)?.users ?? [];
      if (session.user) expect(pool).toContainEqual(session.user);
      const identified = session.events.find((e) => e.type === 'session.identified');
      expect(identified?.data ?? null).toEqual(session.user === null ? null : { ...session.user });
    }
  });

  it('visits pages whose course extractCourse recognises as the session course', () => {
    let inCourse = 0;
    let pages = 0;
    for (const session of sample) {
      for (const event of session.events) {
        if (event.type !== 'session.started' && event.type !== 'session.page_viewed') continue;
        const course = extractCourse(event.data.pageUrl);
        pages += 1;
        if (course === null) continue;
        inCourse += 1;
        expect(course.key).toBe(session.course.key);
      }
    }
    expect(inCourse / pages).toBeGreaterThan(0.75);
  });

  it('covers every LMS platform, each course page mapping to its course and other pages to none', () => {
    const ids = ['int_a', 'int_b', 'int_c', 'int_d', 'int_e', 'int_f', 'int_g'];
    const profiles = createTrafficGenerator({ ...base, integrationIds: ids }).profiles;
    const courses = profiles.flatMap((p) => p.courses);
    expect(new Set(courses.map((c) => c.platform))).toEqual(new Set(LMS_PLATFORMS));
    const rng = createRng(1);
    for (const course of courses) {
      for (let i = 0; i < 20; i += 1) {
        expect(extractCourse(pageFor(course, rng, { inCourse: true }).url)?.key).toBe(course.key);
        expect(extractCourse(pageFor(course, rng, { inCourse: false }).url)).toBeNull();
      }
    }
  });

  it('streams messages for the sessions topic keyed by session, each session in order', () => {
    const messages = take(createTrafficGenerator(base).messages(), 3_000);
    const lastSeen = new Map<string, number>();
    for (const message of messages) {
      expect(message.topic).toBe(Topics.sessions);
      expect(message.key).toBe(eventKey(message.event));
      expect(JSON.parse(message.value)).toEqual(message.event);
      const at = Date.parse(message.event.occurredAt);
      expect(at).toBeGreaterThanOrEqual(lastSeen.get(message.key) ?? 0);
      lastSeen.set(message.key, at);
    }
    expect(lastSeen.size).toBeGreaterThan(16);
  });

  it('advances its simulated clock at the configured session rate', () => {
    const starts = sessions(2_000, { sessionsPerSecond: 10 }).map((s) => Date.parse(s.events[0]?.occurredAt ?? ''));
    expect(starts[0]).toBe(START.getTime());
    expect(((starts.at(-1) ?? 0) - START.getTime()) / 1000).toBeCloseTo(200, -2);
  });

  it('publishes MEAN_EVENTS_PER_SESSION honestly', () => {
    const mean = sample.reduce((sum, s) => sum + s.events.length, 0) / sample.length;
    expect(Math.abs(mean - MEAN_EVENTS_PER_SESSION) / MEAN_EVENTS_PER_SESSION).toBeLessThan(0.15);
  });
});

describe('expectedTotals', () => {
  it('matches what the generator says it produced', () => {
    const list = sessions(400);
    const totals = expectedTotals(list.flatMap((s) => s.events));
    expect(totals.sessions).toBe(400);
    for (const [integrationId, t] of Object.entries(totals.byIntegration)) {
      const mine = list.filter((s) => s.integrationId === integrationId);
      expect(t.sessions).toBe(mine.length);
      expect(t.identifiedSessions).toBe(mine.filter((s) => s.user !== null).length);
      expect(t.eventsByType['session.started']).toBe(mine.length);
      expect(t.latestStatus.bot).toBe(mine.filter((s) => s.kind === 'bot').length);
      expect(t.latestStatus.unscored).toBe(0);
      expect(t.users).toBe(new Set(mine.flatMap((s) => (s.user ? [s.user.userId] : []))).size);
    }
  });

  it('counts a duplicated event once and lets the latest score win whatever the order', () => {
    const [session] = sessions(1, { mix: { human: 0, suspicious: 0, bot: 1 } });
    const events = session?.events ?? [];
    const shuffled = [...events].reverse();
    const totals = expectedTotals([...shuffled, ...events]);
    expect(totals.events).toBe(events.length);
    const only = Object.values(totals.byIntegration)[0];
    expect(only?.latestStatus.bot).toBe(1);
    expect(only?.eventsByType['session.scored']).toBe(events.filter((e) => e.type === 'session.scored').length);
  });
});

describe('malformed messages', () => {
  it('produces one message of every kind, each rejected by decodeEvent with its declared reason', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const now = START.getTime();
      const messages = malformedMessages(createRng(seed), { integrationId: 'int_acme_university', now });
      expect(messages.map((m) => m.kind)).toEqual([...MALFORMED_KINDS]);
      for (const message of messages) {
        const decoded = decodeEvent(message.value, { now: () => now, key: message.key });
        expect({ kind: message.kind, reason: decoded.ok ? 'ok' : decoded.reason }).toEqual({ kind: message.kind, reason: message.reason });
        expect(message.topic).toBe(Topics.sessions);
      }
    }
  });

  it('makes the oversized message larger than 256 KiB', () => {
    const oversized = malformedMessages(createRng(9)).find((m) => m.kind === 'oversized');
    expect(Buffer.byteLength(oversized?.value ?? '')).toBeGreaterThan(256 * 1024);
  });
});
