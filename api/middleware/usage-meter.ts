import type { Middleware } from 'koa';
import type { Result } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../../projections/store/redis-client.js';
import { apiKeys } from '../../projections/store/redis-keys.js';
import { ApiError } from '../errors.js';
import type { ApiState } from '../state.js';

/** Usage is kept for 400 days: a year of history plus the month being billed. */
const RETENTION_SECONDS = 400 * 24 * 3600;

/**
 * The three counters and the retention in one atomic step, as MULTI/EXEC did,
 * but as one command: a transaction is never auto-pipelined and cost a socket
 * write of its own per request, the largest Redis cost left on a point read.
 */
const METER_REQUEST = `
redis.call('HINCRBY', KEYS[1], 'total', 1)
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    meterRequest(key: string, endpointField: string, statusField: string, retentionSeconds: number): Result<number, Context>;
  }
}

export const usageDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The route template (e.g. `GET /v1/sessions/:sessionId`), never the raw path, so ids do not explode the field count. */
export function endpointLabel(method: string, matchedRoute: unknown): string {
  return `${method} ${typeof matchedRoute === 'string' ? matchedRoute : 'unmatched'}`;
}

/**
 * Meters every authenticated request into a per-day Redis hash of the
 * integration: total, per endpoint and per status. Written after the response
 * is decided and without holding it; a metering failure is logged, never shown.
 */
export function usageMeter(deps: { redis: RedisClient; now: () => number; prefix: string; logger: Logger }): Middleware<ApiState> {
  deps.redis.defineCommand('meterRequest', { numberOfKeys: 1, lua: METER_REQUEST });
  const keys = apiKeys(deps.prefix);
  return async (ctx, next) => {
    let status = 500;
    try {
      await next();
      status = ctx.status;
    } catch (error) {
      status = error instanceof ApiError ? error.status : 500;
      throw error;
    } finally {
      const integration = ctx.state.integration;
      if (integration) {
        const key = keys.usageDay(integration.integrationId, usageDay(deps.now()));
        const endpoint = endpointLabel(ctx.method, (ctx as { _matchedRoute?: unknown })._matchedRoute);
        deps.redis
          .meterRequest(key, `endpoint:${endpoint}`, `status:${status}`, RETENTION_SECONDS)
          .catch((error: unknown) => deps.logger.warn({ err: error, requestId: ctx.state.requestId }, 'usage metering failed'));
      }
    }
  };
}
