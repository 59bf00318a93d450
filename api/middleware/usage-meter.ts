import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { RedisClient } from '../../projections/store/redis-client.js';
import { apiKeys } from '../../projections/store/redis-keys.js';
import { ApiError } from '../errors.js';
import type { ApiState } from '../state.js';

/** Usage is kept for 400 days: a year of history plus the month being billed. */
const RETENTION_SECONDS = 400 * 24 * 3600;

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
          .multi()
          .hincrby(key, 'total', 1)
          .hincrby(key, `endpoint:${endpoint}`, 1)
          .hincrby(key, `status:${status}`, 1)
          .expire(key, RETENTION_SECONDS)
          .exec()
          .catch((error: unknown) => deps.logger.warn({ err: error, requestId: ctx.state.requestId }, 'usage metering failed'));
      }
    }
  };
}
