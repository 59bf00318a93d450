import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { FlushGrouper, type FlushLimits } from './flush-group.js';
import { SinkError, type SourceMessage } from './messages.js';
import type { ProjectorMetrics } from './metrics.js';
import type { OwnershipFence, ProjectBatch } from './batch-projector.js';

export interface ProjectorConsumerConfig extends FlushLimits {
  groupId: string;
  topics: readonly string[];
  /** Upper bound of the capped exponential backoff while a sink is down. */
  retryMaxMs: number;
  /** How many partitions' fetches may wait in one flush group. */
  partitionsConcurrency: number;
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  /**
   * Per `topic:partition`, the first offset not to project. A partition that
   * reaches it is paused, its later messages neither projected nor committed,
   * so a rebuild ends exactly at the offsets the live group stands at.
   */
  stopAt?: ReadonlyMap<string, bigint>;
}

export interface ProjectorConsumerDeps {
  kafka: Kafka;
  projectBatch: ProjectBatch;
  logger: Logger;
  metrics: ProjectorMetrics;
  now: () => number;
  /**
   * Called whenever this member's partitions may have changed hands: a rebalance, a join (before the new
   * assignment's first batch), a refused commit, a fetch whose partition was revoked.
   */
  onOwnershipChange?: () => void;
}

/**
 * Fetched bytes live outside the capped heap until their batch is projected;
 * 1 MB per partition (not half a flush) measured 304 -> 242 MB peak RSS at
 * 300k events, at the same throughput. The benchmark's raw consumer uses it too.
 */
export const FETCH_BYTES_PER_PARTITION = 1024 * 1024;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * The group refused this member's heartbeat in the middle of a batch: its
 * partitions may have moved, so the batch was abandoned before its next write.
 * It carries the broker's error type (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID...), which is what kafkajs reads to rejoin the group rather
 * than crash the consumer.
 */
export class OwnershipLostError extends Error {
  override readonly name = 'OwnershipLostError';
  readonly type: string | undefined;

  constructor(cause: unknown) {
    super(`partitions may have moved during the batch: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    const type = (cause as { type?: unknown } | null)?.type;
    this.type = typeof type === 'string' ? type : undefined;
  }
}

/**
 * The projector's Kafka side: a consumer group whose members share the
 * partitions. Offsets are committed per partition only after the batch holding
 * them was accepted by ClickHouse and Redis; a sink outage holds the batch and
 * retries it (consumption pauses by not returning), never skipping it.
 */
export function createProjectorConsumer(config: ProjectorConsumerConfig, deps: ProjectorConsumerDeps) {
  const { logger, metrics } = deps;
  let consumer: Consumer | null = null;
  let stopping = false;
  let joined = false;
  let healthy = true;

  /**
   * A heartbeat of the batch's eachBatch call, its errors kept: kafkajs sends one only when none succeeded
   * within the heartbeat interval, so a batch that runs in step pays nothing, and a worker that stalled
   * longer than that learns from the broker whether it is still a member before it writes.
   */
  let heartbeat: (() => Promise<void>) | null = null;
  const fence: OwnershipFence = async () => {
    try {
      await heartbeat?.();
    } catch (error) {
      deps.onOwnershipChange?.();
      throw new OwnershipLostError(error);
    }
  };

  async function flushWithRetry(messages: SourceMessage[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        const result = await deps.projectBatch(messages, fence);
        const tookMs = performance.now() - started;
        metrics.batchSize.observe(messages.length);
        metrics.batchDuration.observe(tookMs / 1000);
        // One line per batch at debug level: where a slow stretch went, batch by batch, when the histograms only show that it did.
        logger.debug({ messages: messages.length, ms: Math.round(tookMs), stageMs: result.stageMs, attempt }, 'batch projected');
        for (const [stage, ms] of Object.entries(result.stageMs)) metrics.batchStageDuration.observe({ stage }, ms / 1000);
        for (const [type, n] of Object.entries(result.projected)) metrics.eventsProjected.inc({ type }, n);
        for (const [reason, n] of Object.entries(result.deadLettered)) metrics.deadLettered.inc({ reason }, n);
        for (const [source, n] of Object.entries(result.seenSessions)) if (n > 0) metrics.seenSessions.inc({ source }, n);
        if (result.latestEventAt !== null) metrics.lastEventTimestamp.set(result.latestEventAt / 1000);
        metrics.lastBatchTimestamp.set(deps.now() / 1000);
        metrics.sinkHealthy.set(1);
        if (!healthy) logger.info({ attempt }, 'sinks recovered, batch projected');
        healthy = true;
        return;
      } catch (error) {
        if (error instanceof OwnershipLostError) {
          // Nothing more of it is written; whoever holds the partitions now replays it from their last commit.
          logger.warn({ err: error, messages: messages.length }, 'batch abandoned: the group moved on while it ran');
          throw error;
        }
        const retriable = error instanceof SinkError ? error.retriable : false;
        const sink = error instanceof SinkError ? error.sink : 'unknown';
        metrics.sinkFailures.inc({ sink, retriable: String(retriable) });
        metrics.sinkHealthy.set(0);
        healthy = false;
        if (!retriable || stopping) {
          logger.error({ err: error, sink, retriable, messages: messages.length }, 'batch failed; offsets not committed');
          throw error;
        }
        const delay = Math.min(config.retryMaxMs, 100 * 2 ** Math.min(attempt, 10));
        logger.warn({ err: error, sink, attempt, delayMs: delay }, 'sink unavailable; holding the batch and retrying');
        await sleep(delay);
      }
    }
  }

  const grouper = new FlushGrouper(config, flushWithRetry);

  /**
   * A refused commit loses nothing: the batch's writes are idempotent and the
   * partition replays from its last commit. But kafkajs 2.2.4 wraps a refusal
   * such as UNKNOWN_MEMBER_ID (our member expired while the broker was down)
   * as non-retriable and then stops the consumer for good (CRASH, restart:
   * false): the process lived on, consuming nothing. Rethrown as retriable
   * (and without a cause, where kafkajs would look for retriability), the
   * consumer restarts and joins the group again.
   */
  async function commit(topic: string, partition: number, offset: string): Promise<void> {
    try {
      await consumer!.commitOffsets([{ topic, partition, offset }]);
    } catch (error) {
      deps.onOwnershipChange?.();
      throw new SinkError('kafka', `offset commit refused: ${error instanceof Error ? error.message : String(error)}`, true);
    }
  }

  /** The eachBatch calls under way: stop() lets them write and commit before the member leaves. */
  const inFlight = new Set<Promise<void>>();
  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const run = projectFetch(payload);
    inFlight.add(run);
    try {
      await run;
    } finally {
      inFlight.delete(run);
    }
  }

  async function projectFetch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    // Every eachBatch call's heartbeat goes to the same group membership: the latest one serves every flush.
    heartbeat = payload.heartbeat;
    const limit = config.stopAt?.get(`${batch.topic}:${batch.partition}`);
    const inRange = limit === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) < limit);
    if (inRange.length < batch.messages.length) {
      consumer!.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
      logger.info({ topic: batch.topic, partition: batch.partition, stopAt: String(limit) }, 'partition reached its stop offset');
    }
    const messages: SourceMessage[] = inRange.map((m) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
    }));
    for (let i = 0; i < messages.length; i += config.maxRows) {
      if (stopping) return; // nothing new is written once stopping; the rest of this fetch is left for the next run
      const chunk = messages.slice(i, i + config.maxRows);
      const done = grouper.add(chunk);
      // Keep the group membership alive while a slow or retrying flush holds us.
      for (;;) {
        const finished = await Promise.race([done.then(() => true), sleep(HEARTBEAT_EVERY_MS).then(() => false)]);
        if (finished) break;
        if (payload.isRunning() && !payload.isStale()) await payload.heartbeat().catch(() => undefined);
      }
      if (payload.isStale()) {
        deps.onOwnershipChange?.();
        return; // partition revoked: the new owner replays from the last commit
      }
      const last = chunk[chunk.length - 1]!;
      payload.resolveOffset(last.offset);
      await commit(batch.topic, batch.partition, (BigInt(last.offset) + 1n).toString());
      metrics.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(BigInt(batch.highWatermark) - BigInt(last.offset) - 1n));
    }
  }

  return {
    async start(): Promise<void> {
      consumer = deps.kafka.consumer({
        groupId: config.groupId,
        sessionTimeout: config.sessionTimeoutMs,
        rebalanceTimeout: 60_000,
        heartbeatInterval: Math.min(3_000, Math.floor(config.sessionTimeoutMs / 3)),
        maxWaitTimeInMs: Math.max(10, Math.min(config.maxWaitMs, 500)),
        maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
        // Few retries on purpose (about 2 s of backoff), then kafkajs crashes and restarts the consumer.
        // kafkajs 2.2.4 keeps the group coordinator it joined with: commits and heartbeats go to that
        // node id until the consumer rejoins, and when its broker dies they fail on every retry. With
        // unbounded retries a worker held its batch in commitOffsets forever once the coordinator's
        // broker was killed; a restart finds the new coordinator and replays from the last commit.
        retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 10_000 },
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        joined = true;
        deps.onOwnershipChange?.();
        logger.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group');
      });
      consumer.on(consumer.events.CRASH, (e) => {
        joined = false;
        logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      });
      consumer.on(consumer.events.REBALANCING, () => {
        deps.onOwnershipChange?.();
        logger.info('consumer group rebalancing');
      });
      await consumer.connect();
      for (const topic of config.topics) await consumer.subscribe({ topic, fromBeginning: config.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.partitionsConcurrency,
        eachBatch,
      });
    },
    /**
     * Finishes the batch in hand, commits it, leaves the group. The commit comes
     * before the leave, so once a member is gone the group's offsets cover every
     * write it made: a rebuild's handoff trusts exactly that, and a batch
     * replayed against other generations would no longer be new there.
     */
    async stop(): Promise<void> {
      stopping = true;
      grouper.close();
      await Promise.allSettled([...inFlight]);
      await consumer?.disconnect();
      joined = false;
    },
    /** Ready: in the group and the sinks took the last batch. */
    ready: (): boolean => joined && healthy,
    live: (): boolean => !stopping,
  };
}
