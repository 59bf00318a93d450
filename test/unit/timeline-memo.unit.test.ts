import { describe, expect, it } from 'vitest';
import { eventIdHash, TimelineMemo } from '../../projections/runtime/timeline-memo.js';

describe('TimelineMemo', () => {
  it('hands a memo out once, and only while Redis holds the rev it remembers', () => {
    const memo = new TimelineMemo(10);
    memo.put('s1', { rev: 1_700_000_000_000_001, hashes: [1, 2] }, memo.epoch);
    memo.put('s2', { rev: 5, hashes: [3] }, memo.epoch);
    expect(memo.take('s1', '1700000000000001')).toEqual({ rev: 1_700_000_000_000_001, hashes: [1, 2] });
    // Taken out while a batch uses it: a second batch (or a failed attempt) finds nothing and looks up.
    expect(memo.take('s1', '1700000000000001')).toBeNull();
    // Another writer moved the document: the memo is dropped, not handed out.
    expect(memo.take('s2', '6')).toBeNull();
    expect(memo.take('s2', '5')).toBeNull();
    expect(memo.size).toBe(0);
  });

  it('records nothing from a batch that began before the memo was forgotten', () => {
    const memo = new TimelineMemo(10);
    const before = memo.epoch;
    memo.put('s1', { rev: 1, hashes: [] }, before);
    memo.forget();
    expect(memo.size).toBe(0);
    memo.put('s2', { rev: 1, hashes: [] }, before);
    expect(memo.size).toBe(0);
    memo.put('s3', { rev: 1, hashes: [] }, memo.epoch);
    expect(memo.take('s3', '1')).not.toBeNull();
  });

  it('keeps the most recently used sessions within its capacity; capacity 0 keeps none', () => {
    const memo = new TimelineMemo(2);
    memo.put('a', { rev: 1, hashes: [] }, memo.epoch);
    memo.put('b', { rev: 1, hashes: [] }, memo.epoch);
    memo.put('a', { rev: 2, hashes: [] }, memo.epoch);
    memo.put('c', { rev: 1, hashes: [] }, memo.epoch);
    expect(memo.size).toBe(2);
    expect(memo.take('b', '1')).toBeNull();
    expect(memo.take('a', '2')).not.toBeNull();
    expect(memo.take('c', '1')).not.toBeNull();
    const off = new TimelineMemo(0);
    off.put('a', { rev: 1, hashes: [] }, off.epoch);
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
