import { timingSafeEqual } from 'node:crypto';
import { hashApiKey } from '../../schemas/api-key.js';
import type { RedisClient } from '../../projections/store/redis-client.js';
import type { RedisKeys } from '../../projections/store/redis-keys.js';
import { ExpiringCache } from '../expiring-cache.js';

export type KeyResolution =
  | { ok: true; integrationId: string; keyId: string; keyHash: string; name: string; tier: string; region: string; status: string }
  | { ok: false; reason: 'invalid_api_key' | 'revoked_api_key' | 'integration_suspended' };

/**
 * Resolves a presented key to its integration through the Redis key index
 * (SHA-256 of the key -> integration). Results are cached for `cacheMs`,
 * which bounds how long a revoked key keeps working (the contract allows 2 s).
 */
export function createKeyResolver(deps: { redis: RedisClient; keys: () => RedisKeys; now: () => number }, options: { cacheMs: number; maxEntries: number }) {
  const cache = new ExpiringCache<KeyResolution>({ ttlMs: options.cacheMs, maxEntries: options.maxEntries, now: deps.now });

  async function lookup(hash: string): Promise<KeyResolution> {
    const keys = deps.keys();
    const key = await deps.redis.hgetall(keys.apiKey(hash));
    const stored = key.keyHash ?? hash;
    // The index is addressed by the hash, so this compare is defence in depth; it must not leak timing either.
    if (!key.integrationId || !timingSafeEqual(Buffer.from(stored, 'hex'), Buffer.from(hash, 'hex'))) return { ok: false, reason: 'invalid_api_key' };
    if (key.status !== 'active') return { ok: false, reason: 'revoked_api_key' };
    const integration = await deps.redis.hgetall(keys.integration(key.integrationId));
    if (!integration.integrationId) return { ok: false, reason: 'invalid_api_key' };
    if (integration.status !== 'active') return { ok: false, reason: 'integration_suspended' };
    return {
      ok: true,
      integrationId: key.integrationId,
      keyId: key.keyId ?? '',
      keyHash: hash,
      name: integration.name ?? '',
      tier: integration.tier ?? 'free',
      region: integration.region ?? '',
      status: integration.status,
    };
  }

  return async function resolve(rawKey: string): Promise<KeyResolution> {
    const hash = hashApiKey(rawKey);
    const hit = cache.get(hash);
    if (hit) return hit;
    const value = await lookup(hash);
    cache.set(hash, value);
    return value;
  };
}

export type KeyResolver = ReturnType<typeof createKeyResolver>;
