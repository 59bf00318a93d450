import { toGenerations, type Generations, type ProjectionName } from './generations.js';

/**
 * Every Redis key in one place. Keys of one integration share the hash tag
 * `{integrationId}` so the Lua scripts that touch several of them run on one
 * Redis Cluster slot. Projection keys carry their projection's generation,
 * like the ClickHouse tables, so a rebuild can fill fresh keys while the old
 * ones serve.
 */
export interface RedisKeys {
  stats(integrationId: string): string;
  watermarks(integrationId: string): string;
  session(integrationId: string, sessionId: string): string;
  integration(integrationId: string): string;
  apiKey(keyHash: string): string;
}

export function projectionKeys(prefix: string, generations: number | Generations): RedisKeys {
  const g = toGenerations(generations);
  const sessions = `${prefix}g${g.sessions}:`;
  const stats = `${prefix}g${g.stats}:`;
  const apiKeys = `${prefix}g${g['api-keys']}:`;
  return {
    stats: (i) => `${stats}{${i}}:stats`,
    watermarks: (i) => `${stats}{${i}}:wm`,
    session: (i, s) => `${sessions}{${i}}:s:${s}`,
    integration: (i) => `${apiKeys}{${i}}:integration`,
    apiKey: (h) => `${apiKeys}key:${h}`,
  };
}

/**
 * SCAN patterns of one generation's keys of each projection that keeps keys in
 * Redis, for dropping what a rebuild wrote but did not adopt: the key layout
 * above with every id a wildcard, so the two cannot drift apart.
 */
export function projectionKeyPatterns(prefix: string, generation: number): Partial<Record<ProjectionName, string[]>> {
  const keys = projectionKeys(prefix, generation);
  return {
    sessions: [keys.session('*', '*')],
    stats: [keys.stats('*'), keys.watermarks('*')],
    'api-keys': [keys.integration('*'), keys.apiKey('*')],
  };
}

/** Keys the API owns: not projections, so not generational. */
export function apiKeys(prefix: string) {
  return {
    rateLimit: (integrationId: string, windowStart: number) => `${prefix}{${integrationId}}:rl:${windowStart}`,
    usageDay: (integrationId: string, day: string) => `${prefix}{${integrationId}}:usage:${day}`,
    usageDays: (integrationId: string) => `${prefix}{${integrationId}}:usage-days`,
  };
}

/**
 * Routing of the projections, under one hash tag so one pipeline or script
 * reads or moves them together on a Redis Cluster:
 * - generations: a hash, projection -> serving generation (absent: 1);
 * - handoff: a lease a rebuild holds while it takes over a projection; projector
 *   workers stand still while it exists, and resume when it is released or expires;
 * - legacy: the single serving generation of earlier versions, read as the default.
 */
export const routingKeys = (prefix: string) => ({
  generations: `${prefix}{meta}:generations`,
  handoff: `${prefix}{meta}:handoff`,
  legacy: `${prefix}meta:serving-generation`,
});
