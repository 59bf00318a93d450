import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { FETCH_BYTES_PER_PARTITION } from '../projections/runtime/projector-consumer.js';

/**
 * The ceiling the projector is compared with: a kafkajs consumer in a group
 * that reads the same topic with the projector's fetch settings and commits
 * after every batch as the projector does, and does nothing else with the
 * messages (no decoding, no sinks).
 */
export interface RawConsumerOptions {
  groupId: string;
  topic: string;
  partitions: number;
  /** The projector's defaults: BATCH_MAX_WAIT_MS 100 → 100 ms fetch wait; FETCH_BYTES_PER_PARTITION per partition. */
  maxWaitMs?: number;
  maxBytesPerPartition?: number;
  /** Default true (replays the topic); false starts at the end, for latency measurements. */
  fromBeginning?: boolean;
  onBatch?: (batch: EachBatchPayload['batch']) => void;
}

export async function startRawConsumer(kafka: Kafka, options: RawConsumerOptions): Promise<Consumer> {
  const consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxWaitTimeInMs: options.maxWaitMs ?? 100,
    maxBytesPerPartition: options.maxBytesPerPartition ?? FETCH_BYTES_PER_PARTITION,
  });
  // Resolved by the first completed fetch: by then the group is joined and every partition has a position,
  // so a latency probe produced afterwards cannot fall before a "latest" starting offset.
  let fetched!: () => void;
  const firstFetch = new Promise<void>((resolve) => (fetched = resolve));
  consumer.on(consumer.events.FETCH, () => fetched());
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning ?? true });
  await consumer.run({
    autoCommit: true,
    // Commit after every batch, like the projector (which commits each partition after its flush).
    autoCommitThreshold: 1,
    partitionsConsumedConcurrently: options.partitions + 3,
    eachBatch: async ({ batch }) => {
      options.onBatch?.(batch);
    },
  });
  await firstFetch;
  return consumer;
}

/** What the baseline consumer child does with each message it reads (bench/raw-consumer.child.ts). */
export const CONSUMER_WORK = ['none', 'parse', 'decode'] as const;
export type ConsumerWork = (typeof CONSUMER_WORK)[number];

/** What the baseline consumer child found in the messages it read, when it had work to do. */
export interface WorkOutcomes {
  valid: number;
  refused: number;
}
