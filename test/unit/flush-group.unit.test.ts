import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FlushGrouper } from '../../projections/runtime/flush-group.js';
import type { SourceMessage } from '../../projections/runtime/messages.js';

const message = (partition: number, offset: number): SourceMessage => ({ topic: 't', partition, offset: String(offset), key: null, value: Buffer.from('{}') });
const limits = { maxRows: 10, maxBytes: 1_000_000, maxWaitMs: 100, idleMs: 5 };

describe('FlushGrouper', () => {
  let flushed: number[][];
  let grouper: FlushGrouper;
  beforeEach(() => {
    vi.useFakeTimers();
    flushed = [];
    grouper = new FlushGrouper(limits, async (messages) => {
      flushed.push(messages.map((m) => m.partition));
    });
  });
  afterEach(() => vi.useRealTimers());

  it('groups the partitions of one fetch and flushes them idleMs after the last arrived, not maxWaitMs after the first', async () => {
    const waits = [0, 1, 2].map((p) => grouper.add([message(p, 0), message(p, 1)]));
    await vi.advanceTimersByTimeAsync(4);
    expect(flushed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(flushed).toEqual([[0, 0, 1, 1, 2, 2]]);
    await Promise.all(waits);
  });

  it('a partition arriving within the idle window joins the group and moves the flush on', async () => {
    void grouper.add([message(0, 0)]);
    await vi.advanceTimersByTimeAsync(4);
    void grouper.add([message(1, 0)]);
    await vi.advanceTimersByTimeAsync(4);
    expect(flushed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(flushed).toEqual([[0, 1]]);
  });

  it('flushes at once when full, and the next messages open a new group that flushes on its own', async () => {
    void grouper.add(Array.from({ length: 10 }, (_, i) => message(0, i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed).toEqual([Array.from({ length: 10 }, () => 0)]);
    void grouper.add([message(1, 0)]);
    await vi.advanceTimersByTimeAsync(5);
    expect(flushed).toHaveLength(2);
    expect(flushed[1]).toEqual([1]);
  });

  it('never lets a group grow older than maxWaitMs while messages keep trickling in', async () => {
    const roomy = new FlushGrouper({ ...limits, maxRows: 1_000 }, async (messages) => {
      flushed.push(messages.map((m) => m.partition));
    });
    for (let t = 0; t < 100; t += 4) {
      void roomy.add([message(t % 3, t)]);
      await vi.advanceTimersByTimeAsync(4);
    }
    expect(flushed).toHaveLength(1);
    expect(flushed[0]).toHaveLength(25);
  });

  it('close() flushes what is open, and a failed flush rejects every waiter', async () => {
    const failing = new FlushGrouper(limits, async () => {
      throw new Error('sink down');
    });
    const waits = [failing.add([message(0, 0)]), failing.add([message(1, 0)])];
    failing.close();
    for (const wait of waits) await expect(wait).rejects.toThrow('sink down');
  });
});
