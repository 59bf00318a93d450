import { describe, expect, it } from 'vitest';
import { canonicalIso, compareStamps, evolveSession, mergeStates, sameState, sessionStatus, type SessionState } from '../../projections/sessions/session-state.js';
import { sessionRows } from '../../projections/sessions/sessions.projection.js';
import { userSessionRows } from '../../projections/users/users.projection.js';
import { sessionCounterDeltas } from '../../projections/stats/stats.projection.js';
import { sessionEventExamples } from '../../schemas/events/examples.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';

const fold = (events: readonly SessionEvent[], from: SessionState | null = null): SessionState | null =>
  events.reduce<SessionState | null>((state, event) => evolveSession(state, event), from);

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const [started, pageViewed, activity, scored, identified, ended] = sessionEventExamples as [SessionEvent, SessionEvent, SessionEvent, SessionEvent, SessionEvent, SessionEvent];

const rescored = (id: string, at: string, botScore: number, status: 'human' | 'suspicious' | 'bot', flags: string[] = []): SessionEvent => ({
  ...scored,
  eventId: id,
  occurredAt: at,
  type: 'session.scored',
  data: { botScore, status, detectionFlags: flags, modelVersion: 'nai-2026.10.2' },
} as SessionEvent);

describe('session state', () => {
  it('given a started session, when it is scored, then the score and status are the latest', () => {
    const state = fold([started, scored])!;
    expect(state.createdAt).toBe('2026-11-02T14:03:11.120Z');
    expect(sessionStatus(state)).toBe('bot');
    expect(state.score?.botScore).toBe(0.87);
    expect(state.score?.detectionFlags).toEqual(['llm_agent_signature', 'paste_heavy']);
    expect(state.started?.pageUrl).toBe('https://acme.instructure.com/courses/48213/quizzes/991');
  });

  it('given several scores, the latest by occurredAt wins whatever the arrival order', () => {
    const early = rescored('evt_s1', '2026-11-02T14:03:20.000Z', 0.2, 'human');
    const late = rescored('evt_s2', '2026-11-02T14:05:00.000Z', 0.91, 'bot', ['webdriver']);
    expect(fold([started, late, early])!.score?.eventId).toBe('evt_s2');
    expect(fold([started, early, late])!.score?.eventId).toBe('evt_s2');
  });

  it('breaks a tie on equal timestamps by event id, identically everywhere', () => {
    const a = rescored('evt_a', '2026-11-02T14:05:00.000Z', 0.1, 'human');
    const b = rescored('evt_b', '2026-11-02T14:05:00.000Z', 0.9, 'bot');
    expect(fold([a, b])!.score?.eventId).toBe('evt_b');
    expect(fold([b, a])!.score?.eventId).toBe('evt_b');
  });

  it('every permutation of a session converges to the same state', () => {
    const events = [started, pageViewed, activity, scored, identified, ended];
    const expected = JSON.stringify(fold(events));
    for (const order of permutations(events)) expect(JSON.stringify(fold(order))).toBe(expected);
  });

  it('duplicates change nothing, wherever they arrive', () => {
    const events = [started, pageViewed, activity, scored, identified, ended];
    const once = JSON.stringify(fold(events));
    expect(JSON.stringify(fold([...events, ...events]))).toBe(once);
    expect(JSON.stringify(fold([scored, ...events, started, scored]))).toBe(once);
  });

  it('merging two partial states equals folding all their events', () => {
    const left = fold([started, scored])!;
    const right = fold([identified, ended, pageViewed])!;
    const all = fold([started, scored, identified, ended, pageViewed]);
    expect(JSON.stringify(mergeStates(left, right))).toBe(JSON.stringify(all));
    expect(JSON.stringify(mergeStates(right, left))).toBe(JSON.stringify(all));
  });

  it('a state equals itself read back from its JSON, whatever the order of its keys', () => {
    const state = fold([started, pageViewed, activity, scored, identified, ended])!;
    const reordered = Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(state)) as Record<string, unknown>).reverse()) as unknown as SessionState;
    expect(sameState(state, reordered)).toBe(true);
    expect(sameState(state, { ...state, ended: null })).toBe(false);
    expect(sameState(state, { ...state, score: { ...state.score!, detectionFlags: [...state.score!.detectionFlags].reverse() } })).toBe(false);
    expect(sameState(state, { ...state, courses: [...state.courses, 'canvas:x:1'] })).toBe(false);
    expect(sameState(state, { ...state, extra: undefined } as SessionState)).toBe(true);
    expect(sameState(state, null)).toBe(false);
    expect(sameState(null, null)).toBe(true);
  });

  it('orders times by instant, whether written canonically, with an offset, or without milliseconds', () => {
    // Seeded instants from 2015 to 2030, each also written with an offset and (when whole) without a fraction.
    let seed = 7;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const forms = (ms: number): string[] => {
      const canonical = new Date(ms).toISOString();
      const shifted = new Date(ms + 90 * 60_000).toISOString().replace('Z', '+01:30');
      return [canonical, shifted, ...(ms % 1000 === 0 ? [canonical.replace('.000Z', 'Z')] : [])];
    };
    const instants = Array.from({ length: 200 }, (_, i) => {
      const ms = Date.parse('2015-01-01T00:00:00Z') + Math.floor(random() * 15 * 365 * 86_400_000);
      return i % 4 === 0 ? ms - (ms % 1000) : ms;
    });
    const compare = (x: string, y: string): number => Math.sign(compareStamps({ at: x, eventId: 'e' }, { at: y, eventId: 'e' }));
    for (const [i, a] of instants.entries()) {
      for (const x of forms(a)) {
        expect(canonicalIso(x)).toBe(new Date(a).toISOString());
        // Every form of one instant is the same time; against the next instant, the order of the two.
        for (const y of forms(a)) expect(compare(x, y), `${x} vs ${y}`).toBe(0);
        const b = instants[(i + 1) % instants.length]!;
        for (const y of forms(b)) expect(compare(x, y), `${x} vs ${y}`).toBe(Math.sign(a - b));
      }
    }
  });

  it('a stored state whose times are not canonical still merges by instant', () => {
    const state = fold([started, scored])!;
    const handWritten: SessionState = { ...state, createdAt: '2026-11-02T15:00:00+01:00', updatedAt: '2026-11-02T16:00:00+01:00' };
    const merged = mergeStates(handWritten, state);
    // 14:00Z is before the fold's 14:03:11.120Z; 15:00Z is after its last event.
    expect(merged.createdAt).toBe('2026-11-02T15:00:00+01:00');
    expect(merged.updatedAt).toBe('2026-11-02T16:00:00+01:00');
    expect(mergeStates(state, handWritten).createdAt).toBe('2026-11-02T15:00:00+01:00');
  });

  it('keeps courses sorted and unique even when a stored state held them otherwise', () => {
    const stored = { ...fold([started])!, courses: ['moodle:b:2', 'canvas:a:1', 'moodle:b:2'] };
    expect(evolveSession(stored, scored).courses).toEqual(['canvas:a:1', 'moodle:b:2']);
  });

  it('extracts the LMS courses the session visited', () => {
    expect(fold([started, pageViewed])!.courses).toEqual([expect.stringContaining('canvas:acme.instructure.com:48213')]);
  });

  it('given a late event older than the start, when it arrives, then created_at moves and the old row is tombstoned', () => {
    const before = fold([started, identified])!;
    const early = { ...pageViewed, eventId: 'evt_early', occurredAt: '2026-11-02T14:00:00.000Z' } as SessionEvent;
    const after = evolveSession(before, early);
    expect(after.createdAt).toBe('2026-11-02T14:00:00.000Z');
    const rows = sessionRows(before, after, 7);
    expect(rows.map((r) => [r.created_at, r.is_deleted])).toEqual([
      ['2026-11-02T14:00:00.000Z', 0],
      ['2026-11-02T14:03:11.120Z', 1],
    ]);
    expect(userSessionRows(before, after, 7).map((r) => r.is_deleted)).toEqual([0, 1]);
  });

  it('a session re-identified as another user leaves a tombstone for the first user', () => {
    const before = fold([started, identified])!;
    const other = { ...identified, eventId: 'evt_id2', occurredAt: '2026-11-02T14:10:00.000Z', data: { userId: 'lms_user_2' } } as SessionEvent;
    const rows = userSessionRows(before, evolveSession(before, other), 9);
    expect(rows.map((r) => [r.user_id, r.is_deleted])).toEqual([
      ['lms_user_2', 0],
      ['lms_user_88123', 1],
    ]);
  });
});

describe('session counters', () => {
  it('a new session counts once, with its status', () => {
    expect(sessionCounterDeltas(null, fold([started])!)).toEqual({ sessions: 1, 'sessions:status:unscored': 1 });
  });

  it('a re-score moves one session between statuses and nothing else', () => {
    const before = fold([started, rescored('e1', '2026-11-02T14:04:00.000Z', 0.1, 'human')])!;
    const after = evolveSession(before, rescored('e2', '2026-11-02T14:06:00.000Z', 0.95, 'bot', ['webdriver']));
    expect(sessionCounterDeltas(before, after)).toEqual({ 'sessions:status:human': -1, 'sessions:status:bot': 1, 'sessions:flagged': 1 });
  });

  it('an unchanged state adds nothing (a replayed batch)', () => {
    const state = fold([started, scored, identified])!;
    expect(sessionCounterDeltas(state, fold([started, scored, identified])!)).toEqual({});
  });
});
