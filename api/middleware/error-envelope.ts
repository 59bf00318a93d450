import type { Middleware } from 'koa';
import { ClickHouseError } from '../../projections/store/clickhouse-gateway.js';
import { isAvailabilityReply } from '../../projections/store/redis-client.js';
import type { ErrorCode, ErrorEnvelope } from '../../schemas/api/common.js';
import { ApiError } from '../errors.js';
import type { ApiState } from '../state.js';

/** Koa and router errors carry a status; these are the ones a client can cause. */
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'invalid_api_key',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'invalid_request',
  414: 'invalid_request',
  415: 'invalid_request',
  429: 'rate_limited',
  501: 'method_not_allowed',
};

function envelope(code: ErrorCode, message: string, details: Record<string, unknown>): ErrorEnvelope {
  return { error: { code, message, details } };
}

/** The methods the routes matching this path answer (the router leaves the matched layers on ctx.matched). */
function allowedMethods(matched: unknown): string[] {
  const layers = Array.isArray(matched) ? (matched as { methods?: unknown }[]) : [];
  return [...new Set(layers.flatMap((layer) => (Array.isArray(layer.methods) ? layer.methods.filter((m): m is string => typeof m === 'string') : [])))];
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** How long a client should wait before retrying a request a store could not serve. */
const STORE_RETRY_AFTER_SECONDS = 1;

/**
 * ioredis's ways of saying the server is out of reach (offline queue gave up,
 * connection closed, every cluster node failed). Redis answering counts only
 * when the answer is about availability (LOADING after a restart, say).
 */
const REDIS_UNREACHABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const REDIS_UNREACHABLE_MESSAGE = /^(Connection is closed|Stream isn't writeable|Failed to refresh slots cache)|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)\b/;

/** Which store could not be reached, when that is why the request failed: the client may retry, nothing is wrong with its request. */
export function unavailableStore(error: unknown): 'clickhouse' | 'redis' | null {
  if (error instanceof ClickHouseError) return error.retriable ? 'clickhouse' : null;
  if (isAvailabilityReply(error)) return 'redis';
  if (!(error instanceof Error) || error.name === 'ReplyError') return null;
  return REDIS_UNREACHABLE_NAMES.has(error.name) || REDIS_UNREACHABLE_MESSAGE.test(error.message) ? 'redis' : null;
}

/**
 * The one place errors become responses: typed ApiErrors with their code,
 * client errors raised by Koa or the router with a mapped code, an unreachable
 * store a 503 with Retry-After, anything else a logged 500 without internals.
 * Unmatched routes become a 404 envelope.
 */
export function errorEnvelope(): Middleware<ApiState> {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ApiError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`, { path: ctx.path });
      }
    } catch (error) {
      const requestId = ctx.state.requestId;
      if (error instanceof ApiError) {
        ctx.status = error.status;
        ctx.set(error.headers);
        ctx.body = envelope(error.code, error.message, { ...error.details, requestId });
        return;
      }
      const status = statusOf(error);
      if (status === 405 || status === 501) {
        // The router throws 405 without an Allow header, and 501 for a method it does not know (PROPFIND, TRACE, ...):
        // both are the client's mistake, answered 405 with Allow, or 404 when no route has this path at all.
        const allow = allowedMethods((ctx as { matched?: unknown }).matched);
        if (allow.length === 0) {
          ctx.status = 404;
          ctx.body = envelope('not_found', `no route for ${ctx.method} ${ctx.path}`, { path: ctx.path, requestId });
          return;
        }
        ctx.status = 405;
        ctx.set('Allow', allow.join(', '));
        ctx.body = envelope('method_not_allowed', `${ctx.method} is not allowed here; allowed: ${allow.join(', ')}`, { allow, requestId });
        return;
      }
      const clientCode = status !== undefined ? CODES_BY_STATUS[status] : undefined;
      if (status !== undefined && status >= 400 && status < 500 && clientCode) {
        ctx.status = status;
        const headers = (error as { headers?: Record<string, string> }).headers;
        if (headers?.allow || headers?.Allow) ctx.set('Allow', headers.allow ?? headers.Allow ?? '');
        const message = error instanceof Error && (error as { expose?: boolean }).expose ? error.message : 'the request could not be processed';
        ctx.body = envelope(clientCode, message, { requestId });
        return;
      }
      const store = unavailableStore(error);
      if (store !== null) {
        ctx.state.log.warn({ err: error, store }, 'store unavailable');
        ctx.status = 503;
        ctx.set('Retry-After', String(STORE_RETRY_AFTER_SECONDS));
        ctx.body = envelope('service_unavailable', `a backing store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS} s`, { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS, requestId });
        return;
      }
      ctx.state.log.error({ err: error }, 'unhandled error');
      ctx.status = 500;
      ctx.body = envelope('internal_error', 'an unexpected error occurred; quote the request id when reporting it', { requestId });
    }
  };
}
