import type { Pagination } from '../schemas/api/common.js';
import type { CursorCodec, CursorKey, CursorScope } from './cursor.js';

/**
 * Lists ask the store for limit + 1 rows: the extra row only says whether a
 * next page exists. The cursor is made from the last row actually returned.
 */
export function paginate<R, T>(
  rows: readonly R[],
  limit: number,
  toItem: (row: R) => T,
  keyOf: (row: R) => CursorKey,
  cursors: CursorCodec,
  scope: CursorScope,
): { data: T[]; pagination: Pagination } {
  const page = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  const last = page[page.length - 1];
  return {
    data: page.map(toItem),
    pagination: { limit, hasMore, nextCursor: hasMore && last !== undefined ? cursors.encode(scope, keyOf(last)) : null },
  };
}
