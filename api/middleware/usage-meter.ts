import type { Middleware } from 'koa';
import type { Result } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../../projections/store/redis-client.js';
import { apiKeys } from '../../projections/store/redis-keys.js';
import { ApiError } from '../errors.js';
import type { ApiState } from '../state.js';
import { batchPerTurn } from './turn-batch.js';

/** Usage is kept for 400 days: a year of history plus the month being billed. */
const RETENTION_SECONDS = 400 * 24 * 3600;
/** The longest a meter waits for a rate-limit count to ride along with: how stale another replica's usage read can be. */
const RIDE_ALONG_MS = 10;

/**
 * The counters (field, increment, field, increment, ...) and the retention in
 * one atomic step, as MULTI/EXEC did, but as one command: a transaction is
 * never auto-pipelined and cost a socket write of its own per request, the
 * largest Redis cost left on a point read.
 */
const METER_REQUESTS = `
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    meterRequests(key: string, retentionSeconds: number, ...fieldIncrements: (string | number)[]): Result<number, Context>;
  }
}

interface Metered {
  endpoint: string;
  status: number;
  requestId: string;
}

/** The day hash's increments for these requests: total, per endpoint, per status. */
function increments(requests: readonly Metered[]): (string | number)[] {
  const fields = new Map<string, number>([['total', requests.length]]);
  for (const { endpoint, status } of requests) {
    for (const field of [`endpoint:${endpoint}`, `status:${status}`]) fields.set(field, (fields.get(field) ?? 0) + 1);
  }
  return [...fields].flat();
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
 * The meter rides along with the next rate-limit count (see batchPerTurn), in
 * the same socket write and queued ahead of it; every /v1 request takes that
 * count before it reads anything, so a client's next request still reads a
 * usage total that includes this one. With no request after it, it goes out
 * within RIDE_ALONG_MS, and the server flushes it when it stops.
 */
export function usageMeter(deps: { redis: RedisClient; now: () => number; prefix: string; logger: Logger }): Middleware<ApiState> {
  deps.redis.defineCommand('meterRequests', { numberOfKeys: 1, lua: METER_REQUESTS });
  const keys = apiKeys(deps.prefix);
  const meter = batchPerTurn<Metered>((key, requests) => {
    deps.redis
      .meterRequests(key, RETENTION_SECONDS, ...increments(requests))
      .catch((error: unknown) => deps.logger.warn({ err: error, requestIds: requests.map((r) => r.requestId) }, 'usage metering failed'));
  }, { rideAlongMs: RIDE_ALONG_MS });
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
        meter(key, { endpoint, status, requestId: ctx.state.requestId });
      }
    }
  };
}
