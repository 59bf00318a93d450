import { describe, expect, it } from 'vitest';
import { eventIdHash, TimelineMemo } from '../../projections/runtime/timeline-memo.js';

const memoOf = (rev: string, hashes: number[] = []) => ({ rev, hashes });

/** One batch of one session that succeeded: lease, put, release. */
function remember(memo: TimelineMemo, key: string, rev: string): void {
  const lease = memo.lease([key]);
  memo.put(lease, key, memoOf(rev));
  memo.release(lease);
}

describe('TimelineMemo', () => {
  it('hands a memo out once, and only while Redis holds the rev it remembers', () => {
    const memo = new TimelineMemo(10);
    const lease = memo.lease(['s1', 's2']);
    memo.put(lease, 's1', memoOf('1700000000000001.ab12cd34', [1, 2]));
    memo.put(lease, 's2', memoOf('5.ab12cd34', [3]));
    memo.release(lease);
    expect(memo.take('s1', '1700000000000001.ab12cd34')).toEqual(memoOf('1700000000000001.ab12cd34', [1, 2]));
    // Taken out while a batch uses it: a second batch (or a failed attempt) finds nothing and looks up.
    expect(memo.take('s1', '1700000000000001.ab12cd34')).toBeNull();
    // Another writer moved the document (here in the same microsecond): the memo is dropped, not handed out.
    expect(memo.take('s2', '5.ffff0000')).toBeNull();
    expect(memo.take('s2', '5.ab12cd34')).toBeNull();
    expect(memo.size).toBe(0);
  });

  it('shows the hashes of a memo without taking it out, whatever the rev', () => {
    const memo = new TimelineMemo(10);
    const lease = memo.lease(['s1']);
    memo.put(lease, 's1', memoOf('7.ab12cd34', [4, 5]));
    memo.release(lease);
    expect(memo.peek('s1')).toEqual([4, 5]);
    expect(memo.peek('s2')).toBeNull();
    expect(memo.size).toBe(1);
    // Peeking proves nothing: take() still checks the rev.
    expect(memo.take('s1', '8.ab12cd34')).toBeNull();
    expect(memo.peek('s1')).toBeNull();
  });

  it('records nothing from a batch that began before the memo was forgotten', () => {
    const memo = new TimelineMemo(10);
    const early = memo.lease(['s1', 's2']);
    memo.put(early, 's1', memoOf('1'));
    memo.forget();
    expect(memo.size).toBe(0);
    memo.put(early, 's2', memoOf('1'));
    memo.release(early);
    expect(memo.size).toBe(0);
    remember(memo, 's3', '1');
    expect(memo.take('s3', '1')).not.toBeNull();
  });

  it('remembers no session two batches held at once, nor one the lease does not name', () => {
    const memo = new TimelineMemo(10);
    const first = memo.lease(['shared', 'own']);
    const second = memo.lease(['shared']);
    memo.put(first, 'shared', memoOf('1'));
    memo.put(first, 'own', memoOf('1'));
    memo.put(first, 'unleased', memoOf('1'));
    memo.release(first);
    // Still contested after the first batch ended: the second one saw the session as it was before.
    memo.put(second, 'shared', memoOf('2'));
    memo.release(second);
    expect(memo.size).toBe(1);
    expect(memo.take('own', '1')).not.toBeNull();
    // Once both have ended, a later batch may remember it again.
    remember(memo, 'shared', '3');
    expect(memo.take('shared', '3')).not.toBeNull();
  });

  it('keeps the most recently used sessions within its capacity; capacity 0 keeps none', () => {
    const memo = new TimelineMemo(2);
    remember(memo, 'a', '1');
    remember(memo, 'b', '1');
    remember(memo, 'a', '2');
    remember(memo, 'c', '1');
    expect(memo.size).toBe(2);
    expect(memo.take('b', '1')).toBeNull();
    expect(memo.take('a', '2')).not.toBeNull();
    expect(memo.take('c', '1')).not.toBeNull();
    const off = new TimelineMemo(0);
    remember(off, 'a', '1');
    expect(off.size).toBe(0);
  });

  it('hashes event ids to unsigned 32-bit values, stably', () => {
    expect(eventIdHash('')).toBe(0x811c9dc5);
    expect(eventIdHash('a')).toBe(0xe40c292c);
    const ids = Array.from({ length: 10_000 }, (_, i) => `evt_${i.toString(36)}_x`);
    const hashes = new Set(ids.map(eventIdHash));
    for (const h of hashes) expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    expect(hashes.size).toBeGreaterThan(9_990);
  });
});
