/**
 * Items added in one event-loop turn, grouped by key, handed to `flush` once
 * per key after the turn's I/O callbacks (setImmediate). Requests parsed in
 * the same turn thus share one Redis command per key instead of one each,
 * while nothing waits longer than the turn it arrived in. `flush` must not
 * throw: it owns the items and settles them.
 */
export function batchPerTurn<T>(flush: (key: string, items: T[]) => void): (key: string, item: T) => void {
  let pending = new Map<string, T[]>();
  const run = (): void => {
    const batch = pending;
    pending = new Map();
    for (const [key, items] of batch) flush(key, items);
  };
  return (key, item) => {
    const items = pending.get(key);
    if (items) {
      items.push(item);
      return;
    }
    if (pending.size === 0) setImmediate(run);
    pending.set(key, [item]);
  };
}
