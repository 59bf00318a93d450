import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { batchPerTurn, flushRideAlongs } from '../../api/middleware/turn-batch.js';

describe('batchPerTurn', () => {
  it('hands each key the items of one turn once, in arrival order, and starts afresh the next turn', async () => {
    const flushed: [string, number[]][] = [];
    const add = batchPerTurn<number>((key, items) => flushed.push([key, items]));
    add('a', 1);
    add('b', 2);
    add('a', 3);
    // Microtasks of the same turn (awaited middleware) still join the batch.
    await Promise.resolve();
    add('a', 4);
    expect(flushed).toEqual([]);
    await nextTurn();
    expect(flushed).toEqual([
      ['a', [1, 3, 4]],
      ['b', [2]],
    ]);
    add('a', 5);
    await nextTurn();
    expect(flushed.slice(2)).toEqual([['a', [5]]]);
  });

  it('flushes a ride-along batch just before the next urgent flush, in the same turn', async () => {
    const order: string[] = [];
    const meter = batchPerTurn<number>((key, items) => order.push(`meter ${key} ${items.join(',')}`), { rideAlongMs: 60_000 });
    const count = batchPerTurn<number>((key, items) => order.push(`count ${key} ${items.join(',')}`));
    meter('day', 1);
    await nextTurn();
    meter('day', 2);
    await nextTurn();
    // Nothing urgent yet: the meter waits.
    expect(order).toEqual([]);
    count('window', 3);
    await nextTurn();
    expect(order).toEqual(['meter day 1,2', 'count window 3']);
    // Flushed and its timer cleared: the next item starts a new batch.
    meter('day', 4);
    flushRideAlongs();
    expect(order.slice(2)).toEqual(['meter day 4']);
    flushRideAlongs();
    expect(order).toHaveLength(3);
  });

  it('flushes a ride-along batch after its delay when nothing urgent comes', async () => {
    const flushed: number[][] = [];
    const meter = batchPerTurn<number>((_key, items) => flushed.push(items), { rideAlongMs: 5 });
    meter('day', 1);
    meter('day', 2);
    await nextTurn();
    expect(flushed).toEqual([]);
    await sleep(30);
    expect(flushed).toEqual([[1, 2]]);
  });
});
