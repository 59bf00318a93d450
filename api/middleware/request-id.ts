import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { ApiState } from '../state.js';

/** An incoming id is echoed only when it is short and plain, so it can't inject anything into headers or logs. */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** First in the chain: every response, even an error, carries X-Request-ID, and every log line of the request has it. */
export function requestId(logger: Logger): Middleware<ApiState> {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const id = VALID_REQUEST_ID.test(incoming) ? incoming : `req_${randomUUID().replaceAll('-', '')}`;
    ctx.state.requestId = id;
    ctx.state.log = logger.child({ requestId: id });
    ctx.set('X-Request-ID', id);
    await next();
  };
}
