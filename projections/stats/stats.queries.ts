import type { Stats } from '../../schemas/api/stats.js';
import { SESSION_STATUSES } from '../../schemas/events/session-events.js';
import type { RedisClient } from '../store/redis-client.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { StatFields } from './stats.projection.js';

const TYPE_PREFIX = StatFields.eventsOfType('');

/** One HGETALL: constant time whatever the integration's size. */
export async function loadStats(redis: RedisClient, keys: RedisKeys, integrationId: string): Promise<Stats> {
  const hash = await redis.hgetall(keys.stats(integrationId));
  const n = (field: string): number => Number(hash[field] ?? 0);
  const sessionsByStatus = Object.fromEntries(SESSION_STATUSES.map((s) => [s, n(StatFields.status(s))])) as Stats['sessionsByStatus'];
  const eventsByType: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith(TYPE_PREFIX)) eventsByType[field.slice(TYPE_PREFIX.length)] = Number(value);
  }
  const lastEventAt = hash[StatFields.lastEventAt];
  return {
    sessions: n(StatFields.sessions),
    sessionsByStatus,
    botSessions: sessionsByStatus.bot,
    humanSessions: sessionsByStatus.human,
    flaggedSessions: n(StatFields.flaggedSessions),
    identifiedSessions: n(StatFields.identifiedSessions),
    endedSessions: n(StatFields.endedSessions),
    events: n(StatFields.events),
    eventsByType,
    activities: n(StatFields.activities),
    lastEventAt: lastEventAt ? new Date(Number(lastEventAt)).toISOString() : null,
  };
}
