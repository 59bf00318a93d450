import type { Middleware } from 'koa';
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

/**
 * The one place errors become responses: typed ApiErrors with their code,
 * client errors raised by Koa or the router with a mapped code, anything else
 * a logged 500 without internals. Unmatched routes become a 404 envelope.
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
      ctx.state.log.error({ err: error }, 'unhandled error');
      ctx.status = 500;
      ctx.body = envelope('internal_error', 'an unexpected error occurred; quote the request id when reporting it', { requestId });
    }
  };
}
