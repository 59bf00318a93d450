import { z } from './zod.js';

export const ERROR_CODES = [
  'invalid_request',
  'invalid_parameter',
  'unknown_parameter',
  'invalid_cursor',
  'missing_api_key',
  'malformed_api_key',
  'invalid_api_key',
  'revoked_api_key',
  'integration_suspended',
  'wrong_region',
  'not_found',
  'method_not_allowed',
  'rate_limited',
  'not_acceptable',
  'service_unavailable',
  'internal_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).openapi({ description: 'Stable machine-readable code' }),
      message: z.string().openapi({ description: 'Human-readable explanation' }),
      details: z.record(z.unknown()).openapi({ description: 'Structured context: the offending parameter, the request id, retry hints' }),
    }),
  })
  .openapi('ErrorEnvelope');
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

export const PaginationSchema = z
  .object({
    limit: z.number().int(),
    hasMore: z.boolean(),
    nextCursor: z.string().nullable().openapi({ description: 'Opaque; pass as `cursor` to get the next page. Null on the last page.' }),
  })
  .openapi('Pagination');
export type Pagination = z.infer<typeof PaginationSchema>;

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A number in a query string, written in decimal. z.coerce.number() would also
 * take '' and ' ' (as 0) and '0x10'; anything but a decimal stays a string and
 * fails `schema` as the wrong type.
 */
export function decimalParam<T extends z.ZodTypeAny>(schema: T) {
  return z.preprocess((value) => (typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value), schema);
}

/** Query parameters every list endpoint takes. */
export const pageQueryFields = {
  limit: decimalParam(z.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE)).openapi({ description: `Page size, 1-${MAX_PAGE_SIZE}` }),
  cursor: z.string().min(1).max(512).optional().openapi({ description: 'The `nextCursor` of the previous page' }),
};

export const IsoDateTimeSchema = z.string().openapi({ format: 'date-time', example: '2026-11-02T14:03:11.120Z' });

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?)?$/;

/** The fields name a real instant: Date.parse alone rolls 2024-02-30 over to March 1st and takes 24:00 and +25:00. */
function isIsoInstant(s: string): boolean {
  const m = ISO_INSTANT.exec(s);
  if (!m || Number.isNaN(Date.parse(s))) return false;
  const field = (i: number): number => Number(m[i] ?? 0);
  const date = new Date(Date.UTC(2000, field(2) - 1, field(3)));
  date.setUTCFullYear(field(1));
  const [hour, minute, second, offsetHour, offsetMinute] = [field(4), field(5), field(6), field(7), field(8)];
  return date.getUTCMonth() === field(2) - 1 && date.getUTCDate() === field(3) && hour <= 23 && minute <= 59 && second <= 59 && offsetHour <= 23 && offsetMinute <= 59;
}

/** An ISO-8601 instant in a query string, e.g. `since=2026-11-01T00:00:00Z` or a date `2026-11-01`. */
export const IsoInstantParam = z
  .string()
  .max(40)
  .refine(isIsoInstant, {
    message: 'must be an ISO-8601 date or date-time',
  })
  .transform((s) => new Date(s))
  .openapi({ type: 'string', format: 'date-time' });

export function dataEnvelope<T extends z.ZodTypeAny>(schema: T, name: string) {
  return z.object({ data: schema }).openapi(name);
}

export function listEnvelope<T extends z.ZodTypeAny>(item: T, name: string) {
  return z.object({ data: z.array(item), pagination: PaginationSchema }).openapi(name);
}
