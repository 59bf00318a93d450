import type { Middleware } from 'koa';
import type { Result } from 'ioredis';
import type { RedisClient } from '../../projections/store/redis-client.js';
import { apiKeys } from '../../projections/store/redis-keys.js';
import { ApiError } from '../errors.js';
import type { ApiState } from '../state.js';

/** INCR and the first PEXPIRE in one step, so every replica shares one exact count per window. */
const COUNT_REQUEST = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    countRequest(key: string, windowMs: number): Result<number, Context>;
  }
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
  deps.redis.defineCommand('countRequest', { numberOfKeys: 1, lua: COUNT_REQUEST });
  const keys = apiKeys(config.prefix);
  return async (ctx, next) => {
    const integration = ctx.state.integration;
    if (!integration) throw new Error('rateLimit runs after authenticate');
    const limit = config.limits[integration.tier] ?? config.limits.free ?? 60;
    const now = deps.now();
    const windowStart = now - (now % config.windowMs);
    const resetAt = windowStart + config.windowMs;
    const count = await deps.redis.countRequest(keys.rateLimit(integration.integrationId, windowStart), config.windowMs * 2);
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
