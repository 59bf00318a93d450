import type { ErrorCode } from '../schemas/api/common.js';

/** An error the API answers on purpose: its status, stable code and message are safe to show. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) => new ApiError(404, 'not_found', `${what} ${JSON.stringify(id)} was not found`, { resource: what, id });

export const invalidParameter = (parameter: string, message: string, extra: Record<string, unknown> = {}) =>
  new ApiError(400, 'invalid_parameter', `${parameter}: ${message}`, { parameter, ...extra });
