import { describe, expect, it } from 'vitest';
import { createSessionLookup } from '../../api/session-lookup.js';
import type { SessionState } from '../../projections/sessions/session-state.js';
import type { ReadModel } from '../../projections/sessions/sessions.queries.js';

const model = (generation: number): ReadModel => ({ tables: { sessions: `sessions_g${generation}` } }) as unknown as ReadModel;
const state = (sessionId: string): SessionState =>
  ({ integrationId: 'int_a', sessionId, createdAt: '2026-11-01T00:00:00.000Z', updatedAt: '2026-11-01T00:00:00.000Z', started: null, firstPage: null, score: null, identity: null, ended: null, courses: [] });

/** Stores in place of Redis and ClickHouse, counting the reads each answers; `hold()` keeps ClickHouse answers back until released. */
function stores() {
  const redis = new Map<string, SessionState>();
  const clickhouse = new Map<string, SessionState>();
  const reads = { redis: 0, clickhouse: 0 };
  let gate: Promise<void> = Promise.resolve();
  const load = {
    fromRedis: async (_m: ReadModel, _i: string, id: string) => {
      reads.redis += 1;
      return redis.get(id) ?? null;
    },
    fromClickHouse: async (_m: ReadModel, _i: string, id: string) => {
      reads.clickhouse += 1;
      await gate;
      return clickhouse.get(id) ?? null;
    },
  };
  const hold = (): (() => void) => {
    let release!: () => void;
    gate = new Promise<void>((resolve) => (release = resolve));
    return release;
  };
  return { redis, clickhouse, reads, load, hold };
}

describe('session lookup for the API', () => {
  it('asks Redis on every request, so a session projected after a miss shows on the next one', async () => {
    const s = stores();
    let now = 0;
    const lookup = createSessionLookup(s.load, { missTtlMs: 1_000, maxEntries: 10, now: () => now });
    expect(await lookup(model(1), 'int_a', 'ses_1')).toBeNull();
    s.redis.set('ses_1', state('ses_1'));
    now = 10;
    expect(await lookup(model(1), 'int_a', 'ses_1')).toEqual(state('ses_1'));
    expect(s.reads).toEqual({ redis: 2, clickhouse: 1 });
  });

  it('answers a session found nowhere as absent for the miss TTL without asking ClickHouse again, then asks again', async () => {
    const s = stores();
    let now = 0;
    const lookup = createSessionLookup(s.load, { missTtlMs: 1_000, maxEntries: 10, now: () => now });
    for (let i = 0; i < 50; i++) expect(await lookup(model(1), 'int_a', 'ses_gone')).toBeNull();
    expect(s.reads).toEqual({ redis: 50, clickhouse: 1 });
    s.clickhouse.set('ses_gone', state('ses_gone'));
    now = 1_000;
    expect(await lookup(model(1), 'int_a', 'ses_gone')).toEqual(state('ses_gone'));
    expect(s.reads.clickhouse).toBe(2);
  });

  it('finds in ClickHouse what Redis lacks, and never remembers a hit as absent', async () => {
    const s = stores();
    s.clickhouse.set('ses_old', state('ses_old'));
    const lookup = createSessionLookup(s.load, { missTtlMs: 1_000, maxEntries: 10, now: () => 0 });
    expect(await lookup(model(1), 'int_a', 'ses_old')).toEqual(state('ses_old'));
    expect(await lookup(model(1), 'int_a', 'ses_old')).toEqual(state('ses_old'));
    expect(s.reads.clickhouse).toBe(2);
  });

  it('shares one ClickHouse query among concurrent misses of one session', async () => {
    const s = stores();
    const release = s.hold();
    const lookup = createSessionLookup(s.load, { missTtlMs: 1_000, maxEntries: 10, now: () => 0 });
    const answers = Promise.all(Array.from({ length: 20 }, () => lookup(model(1), 'int_a', 'ses_x')));
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    expect(await answers).toEqual(Array.from({ length: 20 }, () => null));
    expect(s.reads.clickhouse).toBe(1);
  });

  it('keeps misses apart per integration and per serving generation', async () => {
    const s = stores();
    const lookup = createSessionLookup(s.load, { missTtlMs: 1_000, maxEntries: 10, now: () => 0 });
    await lookup(model(1), 'int_a', 'ses_1');
    await lookup(model(1), 'int_b', 'ses_1');
    await lookup(model(2), 'int_a', 'ses_1');
    expect(s.reads.clickhouse).toBe(3);
  });
});
