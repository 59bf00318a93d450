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
