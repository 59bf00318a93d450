import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

/**
 * Opaque, signed keyset cursors. A cursor carries the sort key of the last row
 * it returned, bound to the integration, the list it came from and the filters
 * it was made with, and signed with the server's secret (shared by every
 * replica). A tampered, forged or foreign cursor is refused, never decoded
 * into another scope.
 */
export type CursorKey = readonly (string | number)[];

/** What each position of a cursor key must hold; `instant` is an ISO timestamp (a sort key column of DateTime64). */
export type CursorField = 'string' | 'number' | 'instant';

function fits(value: unknown, field: CursorField): boolean {
  if (field === 'instant') return typeof value === 'string' && !Number.isNaN(Date.parse(value));
  if (field === 'number') return typeof value === 'number' && Number.isFinite(value);
  return typeof value === 'string';
}

export interface CursorScope {
  integrationId: string;
  /** Which list: `sessions`, `user-sessions`, `events`, ... */
  list: string;
  /** Canonical form of the filters; a cursor only continues the query that made it. */
  filters: string;
}

interface CursorBody {
  v: 1;
  k: CursorKey;
}

function sign(secret: string, scope: CursorScope, body: string): Buffer {
  return createHmac('sha256', secret).update(`${scope.integrationId}\n${scope.list}\n${scope.filters}\n${body}`).digest().subarray(0, 16);
}

const invalid = (why: string) => new ApiError(400, 'invalid_cursor', `cursor is not valid for this request (${why}); start again without a cursor`, { parameter: 'cursor' });

export function createCursorCodec(secret: string) {
  return {
    encode(scope: CursorScope, key: CursorKey): string {
      const body = Buffer.from(JSON.stringify({ v: 1, k: key } satisfies CursorBody)).toString('base64url');
      return `${body}.${sign(secret, scope, body).toString('base64url')}`;
    },
    decode(scope: CursorScope, cursor: string, shape: readonly CursorField[]): CursorKey {
      const [body, signature, extra] = cursor.split('.');
      if (!body || !signature || extra !== undefined) throw invalid('malformed');
      const given = Buffer.from(signature, 'base64url');
      const expected = sign(secret, scope, body);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('signature mismatch');
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      } catch {
        throw invalid('malformed');
      }
      const key = (parsed as Partial<CursorBody>)?.k;
      if ((parsed as Partial<CursorBody>)?.v !== 1 || !Array.isArray(key) || key.length !== shape.length || key.some((v, i) => !fits(v, shape[i]!))) {
        throw invalid('malformed');
      }
      return key as CursorKey;
    },
  };
}

export type CursorCodec = ReturnType<typeof createCursorCodec>;

/** A stable text form of a filter object, for binding cursors to the query that made them. */
export function canonicalFilters(filters: Record<string, unknown>): string {
  const entries = Object.entries(filters)
    .filter(([k, v]) => v !== undefined && k !== 'cursor' && k !== 'limit')
    .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(entries);
}
