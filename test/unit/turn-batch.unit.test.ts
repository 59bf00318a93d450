import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { batchPerTurn } from '../../api/middleware/turn-batch.js';

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
});
