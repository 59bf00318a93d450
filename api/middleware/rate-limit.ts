import type { Middleware } from 'koa';
import type { Result } from 'ioredis';
import type { RedisClient } from '../../projections/store/redis-client.js';
import { apiKeys } from '../../projections/store/redis-keys.js';
import { ApiError } from '../errors.js';
import type { ApiState } from '../state.js';
import { batchPerTurn } from './turn-batch.js';

/**
 * INCRBY and the first PEXPIRE in one step, so every replica shares one exact
 * count per window. A replica counts the requests of one event-loop turn
 * together: the INCRBY hands it a contiguous range of the window's count, one
 * number per request, so the count stays exact across replicas.
 */
const COUNT_REQUESTS = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    countRequests(key: string, ttlMs: number, requests: number): Result<number, Context>;
  }
}

interface Waiter {
  resolve: (count: number) => void;
  reject: (error: unknown) => void;
}

export interface RateLimitConfig {
  windowMs: number;
  /** Requests per window, by tier. */
  limits: Readonly<Record<string, number>>;
  prefix: string;
}

/**
 * Fixed-window limits per integration and tier, counted in Redis. The count is
 * per integration, not per key or header form, so neither switching headers
 * nor replicas buys more requests.
 */
export function rateLimit(config: RateLimitConfig, deps: { redis: RedisClient; now: () => number }): Middleware<ApiState> {
  deps.redis.defineCommand('countRequests', { numberOfKeys: 1, lua: COUNT_REQUESTS });
  const keys = apiKeys(config.prefix);
  const ttlMs = config.windowMs * 2;
  // In arrival order: the first request of the turn gets the lowest number of the range.
  const enqueue = batchPerTurn<Waiter>((key, waiters) => {
    deps.redis.countRequests(key, ttlMs, waiters.length).then(
      (last) => waiters.forEach((w, i) => w.resolve(last - waiters.length + 1 + i)),
      (error: unknown) => waiters.forEach((w) => w.reject(error)),
    );
  });
  const countRequest = (key: string): Promise<number> => new Promise((resolve, reject) => enqueue(key, { resolve, reject }));
  return async (ctx, next) => {
    const integration = ctx.state.integration;
    if (!integration) throw new Error('rateLimit runs after authenticate');
    const limit = config.limits[integration.tier] ?? config.limits.free ?? 60;
    const now = deps.now();
    const windowStart = now - (now % config.windowMs);
    const resetAt = windowStart + config.windowMs;
    const count = await countRequest(keys.rateLimit(integration.integrationId, windowStart));
    const headers = {
      'X-RateLimit-Limit': String(limit),
      'X-RateLimit-Remaining': String(Math.max(0, limit - count)),
      'X-RateLimit-Reset': String(Math.ceil(resetAt / 1000)),
    };
    ctx.set(headers);
    if (count > limit) {
      const retryAfter = Math.max(1, Math.ceil((resetAt - now) / 1000));
      throw new ApiError(
        429,
        'rate_limited',
        `rate limit of ${limit} requests per ${config.windowMs / 1000} s for the ${integration.tier} tier exceeded`,
        { limit, tier: integration.tier, retryAfterSeconds: retryAfter },
        { ...headers, 'Retry-After': String(retryAfter) },
      );
    }
    await next();
  };
}
