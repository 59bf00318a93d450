import type { SessionEvent } from '../../schemas/events/session-events.js';
import { sessionStatus, type SessionState } from '../sessions/session-state.js';

/**
 * Stats are Redis hash counters per integration. Session counters are derived
 * from the change between a session's previous and next state, so they follow
 * re-scoring exactly (a session moving from human to bot moves one count) and
 * a replayed batch, whose state did not change, adds nothing.
 */
export const StatFields = {
  sessions: 'sessions',
  identifiedSessions: 'sessions:identified',
  flaggedSessions: 'sessions:flagged',
  endedSessions: 'sessions:ended',
  status: (status: string) => `sessions:status:${status}`,
  events: 'events',
  eventsOfType: (type: string) => `events:type:${type}`,
  activities: 'activities',
  lastEventAt: 'lastEventAt',
} as const;

function facts(state: SessionState | null): Map<string, number> {
  const f = new Map<string, number>();
  if (state === null) return f;
  f.set(StatFields.sessions, 1);
  f.set(StatFields.status(sessionStatus(state)), 1);
  if (state.identity) f.set(StatFields.identifiedSessions, 1);
  // Flagged means what it means everywhere in the API: the latest verdict is suspicious or bot.
  const status = sessionStatus(state);
  if (status === 'suspicious' || status === 'bot') f.set(StatFields.flaggedSessions, 1);
  if (state.ended) f.set(StatFields.endedSessions, 1);
  return f;
}

/** Counter changes when one session goes from `prior` to `next`. */
export function sessionCounterDeltas(prior: SessionState | null, next: SessionState): Record<string, number> {
  const before = facts(prior);
  const after = facts(next);
  const deltas: Record<string, number> = {};
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const d = (after.get(key) ?? 0) - (before.get(key) ?? 0);
    if (d !== 0) deltas[key] = d;
  }
  return deltas;
}

/** Counter increments for one event seen for the first time. */
export function eventCounterIncrements(event: SessionEvent): Record<string, number> {
  const inc: Record<string, number> = { [StatFields.events]: 1, [StatFields.eventsOfType(event.type)]: 1 };
  if (event.type === 'session.activity') inc[StatFields.activities] = event.data.activities.length;
  return inc;
}

export function addInto(target: Record<string, number>, source: Record<string, number>): void {
  for (const [k, v] of Object.entries(source)) {
    const sum = (target[k] ?? 0) + v;
    if (sum === 0) delete target[k];
    else target[k] = sum;
  }
}
