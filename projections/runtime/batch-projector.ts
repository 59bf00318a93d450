import { randomBytes } from 'node:crypto';
import { decodeEvent, isSessionEvent } from '../../schemas/events/decode.js';
import type { IntegrationEvent } from '../../schemas/events/integration-events.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { applyIntegrationEvents } from '../api-keys/api-keys.projection.js';
import { courseSessionRows } from '../courses/courses.projection.js';
import { SESSION_EVENT_COLUMNS, sessionEventValues } from '../session-events/session-events.projection.js';
import { evolveSession, mergeStates, sameState, type SessionState } from '../sessions/session-state.js';
import { sessionRows } from '../sessions/sessions.projection.js';
import { addInto, eventCounterIncrements, sessionCounterDeltas } from '../stats/stats.projection.js';
import { ClickHouseError, type ClickHouseGateway, type Row } from '../store/clickhouse-gateway.js';
import { isRetriableRedisError, type RedisClient } from '../store/redis-client.js';
import { FOLD_STATE, anyFromSessions, type ProjectionName } from '../store/generations.js';
import type { RedisKeys } from '../store/redis-keys.js';
import type { TableNames } from '../store/table-set.js';
import { userSessionRows } from '../users/users.projection.js';
import { SinkError, type BatchResult, type BatchStage, type DeadLetter, type SourceMessage } from './messages.js';
import { loadClickHouseStates, loadRedisDocs, loadTimelineFacts, refKey, type SessionRef } from './session-loader.js';
import { eventIdHash, TimelineMemo, type MemoLease, type SessionMemo } from './timeline-memo.js';

export interface BatchProjectorDeps {
  clickhouse: ClickHouseGateway;
  redis: RedisClient;
  /** Publishes dead letters durably; resolves only when the broker acknowledged them. */
  publishDeadLetters: (letters: readonly DeadLetter[]) => Promise<void>;
  now: () => number;
  /**
   * Called between the steps of a batch, with the attempt's number (see
   * CheckpointHook). Production passes nothing; crash tests pass a hook that
   * kills the process at an exact point of the write sequence, or holds one of
   * two writes under way back until it does.
   */
  checkpoint?: CheckpointHook;
  /** The timelines of the sessions this worker created, to skip their seen lookups; none when absent. */
  timelineMemo?: TimelineMemo;
}

/** The points of a batch's write sequence, in order; the timeline's and Redis's run side by side. */
export const BATCH_CHECKPOINTS = ['after-state-rows', 'before-timeline', 'after-timeline', 'before-redis', 'after-redis', 'after-writes'] as const;
export type BatchCheckpoint = (typeof BATCH_CHECKPOINTS)[number];
/**
 * Resolves when the batch may go on. `batch` numbers this projector's attempts at batches of session
 * events from 1: a batch retried after a sink failure is a new attempt with the next number.
 */
export type CheckpointHook = (point: BatchCheckpoint, batch: number) => void | Promise<void>;

/**
 * Resolves while this worker still holds the batch's partitions; rejects once
 * the consumer group has handed them on. A batch awaits it before each of its
 * writes: a worker stalled past its session timeout (a frozen VM, a stopped
 * process) must not finish a batch that the partitions' new owner replays as
 * well, or the hourly view, fed by every timeline insert, counts it twice.
 * Its rejection is passed on as it is, for the consumer to rejoin the group.
 */
export type OwnershipFence = () => Promise<void>;

const NO_FENCE: OwnershipFence = async () => undefined;

export interface BatchProjectorConfig {
  tables: TableNames;
  keys: RedisKeys;
  /**
   * The projections this projector writes. The live projector writes all; a
   * rebuild of one projection writes it and the fold state it is computed
   * from, and must leave every other projection (still serving) alone.
   */
  writes: ReadonlySet<ProjectionName>;
}

interface SessionItem {
  event: SessionEvent;
  message: SourceMessage;
  /** The event's id within its integration (`integrationId\0eventId`), the key of the seen lookup's answers. */
  id: string;
  /** First copy of this event id in the batch; later copies are folded (harmless) but never counted. */
  primary: boolean;
  /** refKey of the event's session, made once: every step of the batch looks its session up by it. */
  session: string;
  /** eventIdHash of the event's id (see TimelineMemo). */
  hash: number;
}

/** What every step of one batch shares: its stage clock, its seen-lookup tally, and its ownership fence. */
interface BatchRun {
  clock: StageClock;
  seenSessions: BatchResult['seenSessions'];
  fence: OwnershipFence;
}

/** Wall-clock time of a batch's stages (see BatchResult.stageMs). */
class StageClock {
  private mark = performance.now();
  constructor(private readonly into: BatchResult['stageMs']) {}

  /** Closes the stage running since the last mark. */
  lap(stage: BatchStage): void {
    const now = performance.now();
    this.add(stage, now - this.mark);
    this.mark = now;
  }

  /**
   * Runs work side by side, each stage timed on its own, and raises the first
   * failure once all of them have settled (see `settleAll`). The next lap
   * starts when the last of them has ended.
   */
  async beside(works: readonly (readonly [BatchStage, () => Promise<unknown>])[]): Promise<void> {
    const started = performance.now();
    try {
      await settleAll(
        works.map(async ([stage, work]) => {
          try {
            await work();
          } finally {
            this.add(stage, performance.now() - started);
          }
        }),
      );
    } finally {
      this.mark = performance.now();
    }
  }

  private add(stage: BatchStage, ms: number): void {
    this.into[stage] = (this.into[stage] ?? 0) + ms;
  }
}

/**
 * Awaits writes sent side by side and raises the first failure only once all
 * of them have settled, so a retry never races a write of this attempt still
 * in flight (its seen lookup must find every timeline row that did land).
 */
async function settleAll(writes: readonly Promise<unknown>[]): Promise<void> {
  for (const outcome of await Promise.allSettled(writes)) if (outcome.status === 'rejected') throw outcome.reason;
}

/** Versions must grow across writes even when the clock does not (two batches in one millisecond). */
function versionClock(now: () => number): () => number {
  let last = 0;
  return () => {
    last = Math.max(now() * 1000, last + 1);
    return last;
  };
}

async function guard<T>(sink: 'clickhouse' | 'redis', work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SinkError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const retriable = sink === 'clickhouse' ? !(error instanceof ClickHouseError) || error.retriable : isRetriableRedisError(error);
    throw new SinkError(sink, message, retriable, { cause: error });
  }
}

/**
 * Projects one batch of messages into ClickHouse, then Redis. It either
 * completes (the caller may commit the offsets) or throws a SinkError (the
 * caller must not commit, and retries the same batch later). Every write is
 * idempotent, so a batch projected twice leaves everything as projected once.
 */
export function createBatchProjector(config: BatchProjectorConfig, deps: BatchProjectorDeps) {
  const { tables, keys, writes } = config;
  const nextVersion = versionClock(deps.now);
  const memo = deps.timelineMemo ?? new TimelineMemo(0);
  // Revs name their writer: two workers writing one session in the same microsecond still write different revs,
  // so a rev this worker remembers proves nobody else has written the document since (see TimelineMemo).
  const writer = randomBytes(4).toString('hex');
  const folds = anyFromSessions(writes);
  let sessionBatches = 0;
  if (folds && !FOLD_STATE.every((p) => writes.has(p))) throw new Error(`a writer of ${[...writes].join(', ')} must also write the fold state (${FOLD_STATE.join(', ')})`);

  return async function projectBatch(messages: readonly SourceMessage[], fence: OwnershipFence = NO_FENCE): Promise<BatchResult> {
    const result: BatchResult = {
      messages: messages.length,
      projected: {},
      newEvents: 0,
      deadLettered: {},
      latestEventAt: null,
      stageMs: {},
      seenSessions: { memo: 0, clickhouse: 0 },
    };
    const clock = new StageClock(result.stageMs);
    const deadLetters: DeadLetter[] = [];
    const sessionItems: SessionItem[] = [];
    const integrationEvents: IntegrationEvent[] = [];
    const firstCopies = new Set<string>();

    for (const message of messages) {
      const decoded = decodeEvent(message.value, { now: deps.now, key: message.key?.toString('utf8') ?? null });
      if (!decoded.ok) {
        deadLetters.push({ message, reason: decoded.reason, detail: decoded.detail });
        result.deadLettered[decoded.reason] = (result.deadLettered[decoded.reason] ?? 0) + 1;
        continue;
      }
      const event = decoded.event;
      result.projected[event.type] = (result.projected[event.type] ?? 0) + 1;
      const at = Date.parse(event.occurredAt);
      if (result.latestEventAt === null || at > result.latestEventAt) result.latestEventAt = at;
      if (isSessionEvent(event)) {
        const id = `${event.integrationId}\u0000${event.eventId}`;
        sessionItems.push({ event, message, id, primary: !firstCopies.has(id), session: refKey(event), hash: eventIdHash(event.eventId) });
        firstCopies.add(id);
      } else {
        integrationEvents.push(event);
      }
    }

    clock.lap('decode');
    // Dead letters first: once they are durable the bad messages are accounted for.
    if (deadLetters.length > 0) {
      await deps.publishDeadLetters(deadLetters);
      clock.lap('dead_letters');
    }

    if (sessionItems.length > 0 && folds) result.newEvents = await projectSessions(sessionItems, { clock, seenSessions: result.seenSessions, fence });
    if (integrationEvents.length > 0 && writes.has('api-keys')) {
      await fence();
      await guard('redis', () => applyIntegrationEvents(deps.redis, keys, integrationEvents));
      clock.lap('redis');
    }
    return result;
  };

  async function projectSessions(items: readonly SessionItem[], run: BatchRun): Promise<number> {
    const refsByKey = new Map<string, SessionRef>();
    for (const { event, session } of items) if (!refsByKey.has(session)) refsByKey.set(session, { integrationId: event.integrationId, sessionId: event.sessionId });
    const lease = memo.lease([...refsByKey.keys()]);
    try {
      return await projectLeased(items, [...refsByKey.values()], lease, run);
    } finally {
      memo.release(lease);
    }
  }

  async function projectLeased(items: readonly SessionItem[], refs: readonly SessionRef[], lease: MemoLease, { clock, seenSessions, fence }: BatchRun): Promise<number> {
    const batch = ++sessionBatches;
    const eventIdsOf = (sessions: readonly SessionRef[]): string[] => {
      const wanted = new Set(sessions.map(refKey));
      return items.filter((i) => wanted.has(i.session)).map((i) => i.event.eventId);
    };
    const hashesOf = new Map<string, number[]>();
    for (const { session, hash } of items) {
      const hashes = hashesOf.get(session);
      if (hashes) hashes.push(hash);
      else hashesOf.set(session, [hash]);
    }
    // Sessions whose remembered timeline cannot hold one of this batch's events (see TimelineMemo) need no lookup.
    const memoAnswers = (k: string, remembered: readonly number[] | null | undefined): boolean =>
      !!remembered && !hashesOf.get(k)!.some((h) => remembered.includes(h));
    // While Redis loads, the timeline is asked which of the other sessions exist at all (most of a busy batch is
    // new sessions, without timeline rows: see loadTimelineFacts). Whether a memo holds is only known once Redis
    // shows the rev it remembers, and where events were first projected is asked only for the sessions that need it.
    const asked = refs.filter((r) => !memoAnswers(refKey(r), memo.peek(refKey(r))));
    const [redisDocs, { present, seen }] = await Promise.all([
      guard('redis', () => loadRedisDocs(deps.redis, keys, refs)),
      guard('clickhouse', () => loadTimelineFacts(deps.clickhouse, tables, [], asked, [])),
    ]);
    const missing = refs.filter((r) => !redisDocs.has(refKey(r)));
    const known = refs.filter((r) => redisDocs.has(refKey(r)));
    // Taken out now, put back once the batch has succeeded.
    const memos = new Map<string, SessionMemo>();
    for (const r of known) {
      const k = refKey(r);
      const m = memo.take(k, redisDocs.get(k)!.rev);
      if (m) memos.set(k, m);
    }
    const lookedUp = known.filter((r) => !memoAnswers(refKey(r), memos.get(refKey(r))?.hashes));
    seenSessions.memo += known.length - lookedUp.length;
    seenSessions.clickhouse += lookedUp.length;
    // Where events were first projected: for the known sessions no memo answers for, and for the sessions that exist
    // but Redis lacks (after Redis lost its data). Of the latter, the ones the memo's guess left out (Redis lost
    // a document this worker wrote) are probed now; asking where their events were is harmless if they are new.
    const wasAsked = new Set(asked.map(refKey));
    const unprobed = missing.filter((r) => !wasAsked.has(refKey(r)));
    const needSeen = [...lookedUp, ...missing.filter((r) => present.has(refKey(r))), ...unprobed];
    if (needSeen.length > 0) {
      const more = await guard('clickhouse', () => loadTimelineFacts(deps.clickhouse, tables, needSeen, unprobed, eventIdsOf(needSeen)));
      for (const k of more.present) present.add(k);
      for (const [id, position] of more.seen) seen.set(id, position);
    }
    // Sessions that exist but Redis lacks (after Redis lost its data): their states.
    const recovered = missing.filter((r) => present.has(refKey(r)));
    const clickhouseStates = await guard('clickhouse', () => loadClickHouseStates(deps.clickhouse, tables, recovered));
    clock.lap('read');

    // Fold every event onto the best known state: idempotent, so including already-projected events is harmless.
    const next = new Map<string, SessionState>();
    const base = new Map<string, SessionState | null>();
    for (const ref of refs) {
      const k = refKey(ref);
      const fromRedis = redisDocs.get(k)?.state ?? null;
      const fromClickHouse = clickhouseStates.get(k) ?? null;
      base.set(k, fromRedis && fromClickHouse ? mergeStates(fromRedis, fromClickHouse) : (fromRedis ?? fromClickHouse));
    }
    for (const { event, session } of items) next.set(session, evolveSession(next.get(session) ?? base.get(session) ?? null, event));

    // ClickHouse first: the changed states, then timeline rows for events it has never seen.
    const eventRows: unknown[][] = [];
    const fresh = new Set<string>();
    const grown = new Set<string>();
    for (const item of items) {
      if (!item.primary || seen.has(item.id)) continue;
      fresh.add(item.id);
      grown.add(item.session);
      eventRows.push(sessionEventValues(item.event, { partition: item.message.partition, offset: item.message.offset }));
    }
    const version = nextVersion();
    const sessionTableRows: Row[] = [];
    const userRows: Row[] = [];
    const courseRows: Row[] = [];
    /** Sessions whose Redis document this batch writes: a changed state, or a timeline that grew (a new rev, see TimelineMemo). */
    const changed: string[] = [];
    for (const [k, state] of next) {
      const prior = base.get(k) ?? null;
      const redisPrior = redisDocs.get(k)?.state ?? null;
      if (sameState(prior, state) && sameState(redisPrior, state)) {
        if (grown.has(k)) changed.push(k);
        continue;
      }
      changed.push(k);
      sessionTableRows.push(...sessionRows(prior, state, version));
      if (writes.has('users')) userRows.push(...userSessionRows(prior, state, version));
      if (writes.has('courses')) courseRows.push(...courseSessionRows(state, version));
    }
    clock.lap('fold');
    // The state rows first, side by side: a session's Redis document must never be ahead of its state rows, since
    // a replay that finds its events already in the document writes no rows (see `changed`). And a state row must
    // never be behind its session's timeline rows, which stand for "has a state" (see loadTimelineFacts).
    await fence();
    await guard('clickhouse', () =>
      settleAll([
        deps.clickhouse.insert(tables.sessions, sessionTableRows),
        deps.clickhouse.insert(tables.user_sessions, userRows),
        deps.clickhouse.insert(tables.course_sessions, courseRows),
      ]),
    );
    clock.lap('state_rows');
    await deps.checkpoint?.('after-state-rows', batch);
    // Then the timeline and Redis side by side: neither needs the other, and a replay after either landed alone
    // writes each once (the seen lookup finds the timeline rows that exist; Redis counts only above its watermarks).
    // Meanwhile Redis may show events the timeline and the hourly view do not hold yet, for one insert's time.
    const rev = `${version}.${writer}`;
    await fence();
    await clock.beside([
      [
        'timeline',
        () =>
          guard('clickhouse', async () => {
            await deps.checkpoint?.('before-timeline', batch);
            await deps.clickhouse.insertValues(tables.session_events, { columns: SESSION_EVENT_COLUMNS, values: eventRows });
            await deps.checkpoint?.('after-timeline', batch);
          }),
      ],
      [
        'redis',
        () =>
          guard('redis', async () => {
            await deps.checkpoint?.('before-redis', batch);
            await applyRedis(items, next, redisDocs, changed, seen, rev);
            await deps.checkpoint?.('after-redis', batch);
          }),
      ],
    ]);
    await deps.checkpoint?.('after-writes', batch);

    // The batch is in both sinks: remember the sessions whose whole timeline is now known here, the ones
    // remembered before and the ones this batch created (no Redis document, no timeline row).
    const complete = new Map<string, SessionMemo>(memos);
    for (const r of missing) if (!present.has(refKey(r))) complete.set(refKey(r), { rev: '', hashes: [] });
    const rewritten = new Set(changed);
    for (const { session, hash } of items) {
      const m = complete.get(session);
      if (m && !m.hashes.includes(hash)) m.hashes.push(hash);
    }
    for (const [k, m] of complete) {
      const current = rewritten.has(k) ? rev : redisDocs.get(k)?.rev;
      if (current) memo.put(lease, k, { rev: current, hashes: m.hashes });
    }
    return fresh.size;
  }

  async function applyRedis(
    items: readonly SessionItem[],
    next: Map<string, SessionState>,
    redisDocs: Map<string, { rev: string; state: SessionState }>,
    changed: readonly string[],
    seen: Map<string, { partition: number; offset: string }>,
    rev: string,
  ): Promise<void> {
    type Payload = {
      sessionKeys: string[];
      sessions: { rev: string; expectedRev: string; state: string }[];
      deltas: Record<string, number>;
      events: { p: number; o: number; at: number; inc: Record<string, number> }[];
    };
    const byIntegration = new Map<string, Payload>();
    const payloadOf = (integrationId: string): Payload => {
      let p = byIntegration.get(integrationId);
      if (!p) {
        p = { sessionKeys: [], sessions: [], deltas: {}, events: [] };
        byIntegration.set(integrationId, p);
      }
      return p;
    };
    for (const k of changed) {
      const state = next.get(k)!;
      const prior = redisDocs.get(k) ?? null;
      const p = payloadOf(state.integrationId);
      p.sessionKeys.push(keys.session(state.integrationId, state.sessionId));
      p.sessions.push({ rev, expectedRev: prior?.rev ?? '', state: JSON.stringify(state) });
      if (writes.has('stats')) addInto(p.deltas, sessionCounterDeltas(prior?.state ?? null, state));
    }
    for (const item of items) {
      if (!item.primary || !writes.has('stats')) continue;
      const first = seen.get(item.id);
      // Seen at another position: a duplicate publish of an event already counted.
      if (first && (first.partition !== item.message.partition || first.offset !== item.message.offset)) continue;
      payloadOf(item.event.integrationId).events.push({
        p: item.message.partition,
        o: Number(item.message.offset),
        at: Date.parse(item.event.occurredAt),
        inc: eventCounterIncrements(item.event),
      });
    }
    for (const [integrationId, p] of byIntegration) {
      const payload = JSON.stringify({ sessions: p.sessions, deltas: p.deltas, events: p.events });
      const keyList = [keys.stats(integrationId), keys.watermarks(integrationId), ...p.sessionKeys];
      const [status, detail] = await deps.redis.applyIntegrationBatch(keyList.length, ...keyList, payload);
      if (status === 'conflict') {
        // Another writer moved this session since we read it (a rebalance overlap): retry from fresh state.
        throw new SinkError('redis', `session document changed concurrently: ${detail}`, true);
      }
    }
  }
}

export type ProjectBatch = ReturnType<typeof createBatchProjector>;
