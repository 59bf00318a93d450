/**
 * What this worker knows of the timelines of the sessions it created.
 *
 * The projector must insert an event into the timeline only the first time it
 * sees it (the hourly counts are summed from those inserts), so every batch
 * asks ClickHouse which of its events the timeline already holds. For a
 * session whose every timeline row this worker wrote itself, the answer is
 * already here: a session the worker found new (no Redis document, no timeline
 * row) starts complete with that batch's events, and stays complete while
 * every later event of it goes through this worker. Sessions are keyed by id,
 * so all of a session's events share one partition, and the memo is forgotten
 * whenever the group reassigns partitions.
 *
 * Each session keeps the rev of the Redis document this worker last wrote for
 * it and a 32-bit hash of each event id it inserted. Every batch that inserts
 * timeline rows for a session writes its document with a new rev, whether or
 * not its state changed, and revs carry their writer's id: so a memo is used
 * only while Redis still holds its rev (no other writer has added to that
 * timeline since), and only to say "not seen": when a batch's event hashes to
 * a remembered value (a duplicate publish, or a collision), its session is
 * looked up in ClickHouse as before. Memos are taken out of the map while a
 * batch uses them and put back only when it succeeded, so a failed attempt,
 * whose inserts may or may not have landed, leaves those sessions to the
 * lookup; and a session that two batches of this worker held at once (flush
 * groups run side by side) is not remembered by either.
 */

/** A session whose whole timeline this worker wrote. */
export interface SessionMemo {
  /** The rev of the Redis document this worker last wrote. */
  rev: string;
  /** FNV-1a hashes of the event ids in its timeline. */
  hashes: number[];
}

/** FNV-1a, 32 bits, over UTF-16 code units: ids are short ASCII, and a collision only costs a lookup. */
export function eventIdHash(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The sessions of one batch, registered with the memo while the batch runs. */
export interface MemoLease {
  readonly epoch: number;
  readonly keys: readonly string[];
}

export class TimelineMemo {
  /** Insertion order is recency: a used memo is put back at the end, the oldest is evicted first. */
  private readonly sessions = new Map<string, SessionMemo>();
  /** Sessions of the batches under way: how many batches hold each, and whether two ever held it at once. */
  private readonly held = new Map<string, { batches: number; contested: boolean }>();
  private era = 0;

  /** `capacity` sessions at most (0 turns the memo off); each costs about 400 bytes of heap (23 events). */
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Forgets every session: the worker's partitions may have changed hands. Batches under way record nothing. */
  forget(): void {
    this.sessions.clear();
    this.era += 1;
  }

  /** Registers a batch's sessions; release() the lease when the batch has ended, however it ended. */
  lease(keys: readonly string[]): MemoLease {
    for (const key of keys) {
      const entry = this.held.get(key);
      if (entry) {
        entry.batches += 1;
        entry.contested = true;
      } else {
        this.held.set(key, { batches: 1, contested: false });
      }
    }
    return { epoch: this.era, keys };
  }

  release(lease: MemoLease): void {
    for (const key of lease.keys) {
      const entry = this.held.get(key);
      if (!entry) continue;
      entry.batches -= 1;
      if (entry.batches === 0) this.held.delete(key);
    }
  }

  /**
   * The event hashes remembered for a session, left in place: a guess, before
   * Redis shows the session's rev, at whether take() will hand a memo out.
   */
  peek(key: string): readonly number[] | null {
    return this.sessions.get(key)?.hashes ?? null;
  }

  /**
   * Takes the memo of a session out, if it is complete: Redis holds the rev it
   * remembers. A memo that does not match is dropped.
   */
  take(key: string, redisRev: string): SessionMemo | null {
    const memo = this.sessions.get(key);
    if (!memo) return null;
    this.sessions.delete(key);
    return memo.rev === redisRev ? memo : null;
  }

  /**
   * Puts a complete memo (back) in, unless the memo was forgotten since the
   * lease was taken or another batch held the session meanwhile.
   */
  put(lease: MemoLease, key: string, memo: SessionMemo): void {
    if (lease.epoch !== this.era || this.capacity === 0 || this.held.get(key)?.contested !== false) return;
    this.sessions.delete(key);
    // A copy holds exactly its hashes: the pushes that built the array left room for half as many again.
    this.sessions.set(key, { rev: memo.rev, hashes: memo.hashes.slice() });
    while (this.sessions.size > this.capacity) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
  }
}
