/**
 * Every Redis key in one place. Keys of one integration share the hash tag
 * `{integrationId}` so the Lua scripts that touch several of them run on one
 * Redis Cluster slot. Projection keys carry the generation, like the
 * ClickHouse tables, so a rebuild can fill fresh keys while the old ones serve.
 */
export interface RedisKeys {
  stats(integrationId: string): string;
  watermarks(integrationId: string): string;
  session(integrationId: string, sessionId: string): string;
  integration(integrationId: string): string;
  apiKey(keyHash: string): string;
}

export function projectionKeys(prefix: string, generation: number): RedisKeys {
  const p = `${prefix}g${generation}:`;
  return {
    stats: (i) => `${p}{${i}}:stats`,
    watermarks: (i) => `${p}{${i}}:wm`,
    session: (i, s) => `${p}{${i}}:s:${s}`,
    integration: (i) => `${p}{${i}}:integration`,
    apiKey: (h) => `${p}key:${h}`,
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

/** The generation reads are served from; a rebuild moves it when caught up. */
export const servingGenerationKey = (prefix: string): string => `${prefix}meta:serving-generation`;
