/** A Kafka message as the projector sees it, independent of the client library. */
export interface SourceMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface DeadLetter {
  message: SourceMessage;
  reason: string;
  detail: string;
}

/** A sink failed. `retriable` says whether the same batch may succeed later (PostHog's rule: retry only those). */
export class SinkError extends Error {
  override readonly name = 'SinkError';
  constructor(
    readonly sink: 'clickhouse' | 'redis' | 'kafka',
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${sink}: ${message}`, options);
  }
}

export interface BatchResult {
  messages: number;
  /** Events projected, by type (duplicates included: they were handled, idempotently). */
  projected: Record<string, number>;
  /** Events new to ClickHouse in this batch. */
  newEvents: number;
  deadLettered: Record<string, number>;
  /** Latest occurredAt among the batch's events, for the freshness gauge. */
  latestEventAt: number | null;
  /**
   * Wall-clock milliseconds of each step of the batch, so an operator sees what
   * bounds a slow flush. Wall time: a step that awaits a sink also counts the
   * time another flush group held the event loop meanwhile.
   */
  stageMs: Partial<Record<BatchStage, number>>;
  /** Known sessions of the batch by where their seen events came from: the worker's memo, or a ClickHouse lookup. */
  seenSessions: { memo: number; clickhouse: number };
}

/**
 * The steps of a batch, in order: decode and validate; dead letters; read the prior
 * states and the seen lookup; fold; the state rows (sessions, users, courses); then
 * the timeline insert and the Redis scripts, which run side by side, so their times
 * overlap and each counts its own.
 */
export const BATCH_STAGES = ['decode', 'dead_letters', 'read', 'fold', 'state_rows', 'timeline', 'redis'] as const;
export type BatchStage = (typeof BATCH_STAGES)[number];
