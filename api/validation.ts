import type { Middleware } from 'koa';
import type { ZodError } from 'zod';
import { ApiError } from './errors.js';

interface InvalidParts {
  query?: ZodError;
  params?: ZodError;
  headers?: ZodError;
  body?: ZodError;
  error?: boolean;
}

/**
 * koa-zod-router's validation failures become 400 envelopes that name the
 * offending parameter: `unknown_parameter` for a parameter the route does not
 * take, `invalid_parameter` for a bad value.
 */
export function validationFailure(invalid: InvalidParts): ApiError {
  for (const [where, error] of [['query', invalid.query], ['path', invalid.params], ['header', invalid.headers], ['body', invalid.body]] as const) {
    if (!error) continue;
    const issue = error.issues[0];
    if (!issue) continue;
    if (issue.code === 'unrecognized_keys') {
      const names = issue.keys;
      return new ApiError(400, 'unknown_parameter', `unknown ${where} parameter${names.length > 1 ? 's' : ''}: ${names.join(', ')}`, {
        in: where,
        parameter: names[0],
        parameters: names,
      });
    }
    // The parameter itself, not the position inside it (`status`, not `status.0` for the first of a comma-separated list).
    const parameter = issue.path.length > 0 ? String(issue.path[0]) : '(all)';
    return new ApiError(400, 'invalid_parameter', `${where} parameter ${parameter}: ${issue.message}`, {
      in: where,
      parameter,
      issues: error.issues.slice(0, 5).map((i) => ({ parameter: i.path.join('.'), message: i.message })),
    });
  }
  return new ApiError(400, 'invalid_request', 'the request is not valid', {});
}

export const validationErrorHandler: Middleware = async (ctx, next) => {
  const invalid = (ctx as { invalid?: InvalidParts }).invalid;
  if (invalid?.error) throw validationFailure(invalid);
  await next();
};
