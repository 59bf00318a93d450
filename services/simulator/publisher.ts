import { setTimeout as delay } from 'node:timers/promises';
import { Presets, SingleBar } from 'cli-progress';
import type { Message, Producer } from 'kafkajs';
import type { DecodeReason } from '../../schemas/events/decode.js';
import type { Logger } from '../logger.js';
import { randomMalformedMessage, type MalformedContext } from './malformed.js';
import type { Rng } from './rng.js';
import type { SimMessage } from './traffic.js';

/**
 * Sends generated traffic to Kafka at a steady rate. The content comes from
 * the (deterministic) generator; only the pacing depends on the wall clock.
 */

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined),
};

/**
 * Classic token bucket: tokens accrue at `rate` per second up to `capacity`;
 * a batch waits until it can pay for all its messages, which spreads batches
 * evenly instead of bursting at the start of every second.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly capacity: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Milliseconds until `count` tokens are available (0 if they are now). */
  waitFor(count: number): number {
    this.refill();
    return this.tokens >= count ? 0 : ((count - this.tokens) / this.rate) * 1000;
  }

  take(count: number): void {
    this.refill();
    this.tokens -= count;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

export interface PublishOptions {
  /** Messages per second, malformed ones included. */
  rate: number;
  durationMs?: number;
  maxMessages?: number;
  batchSize?: number;
  /** Mixes bad messages in; `context.now` is where their timestamps start (the traffic's start). */
  malformed?: { share: number; rng: Rng; context: MalformedContext };
  progress?: 'bar' | 'log' | 'none';
  signal?: AbortSignal;
  /** The sessions topic under the configured namespace; the contract's default name when absent. */
  topic?: string;
}

export interface PublishDeps {
  producer: Pick<Producer, 'sendBatch'>;
  logger: Pick<Logger, 'info'>;
  clock?: Clock;
}

export interface PublishResult {
  sent: number;
  valid: number;
  malformed: number;
  malformedByReason: Partial<Record<DecodeReason, number>>;
  batches: number;
  elapsedMs: number;
  stoppedBy: 'duration' | 'count' | 'signal' | 'exhausted';
}

interface Progress {
  update(result: PublishResult): void;
  stop(result: PublishResult): void;
}

const PROGRESS_LOG_EVERY_MS = 5_000;

function createProgress(kind: PublishOptions['progress'], options: PublishOptions, deps: Required<PublishDeps>): Progress {
  if (kind === 'bar') {
    // Count mode tracks messages; duration mode tracks seconds; open-ended runs just show counters.
    const bySeconds = options.maxMessages === undefined;
    const total = options.maxMessages ?? Math.ceil((options.durationMs ?? 0) / 1000);
    const bar = new SingleBar({ format: `{bar} {percentage}% | {sent} sent | {malformed} malformed | {perSecond}/s | {duration_formatted}`, hideCursor: true }, Presets.shades_classic);
    const payload = (r: PublishResult) => ({ sent: r.sent, malformed: r.malformed, perSecond: Math.round(r.sent / Math.max(0.001, r.elapsedMs / 1000)) });
    const value = (r: PublishResult) => (bySeconds ? r.elapsedMs / 1000 : r.sent);
    bar.start(Math.max(total, 1), 0, payload({ sent: 0, valid: 0, malformed: 0, malformedByReason: {}, batches: 0, elapsedMs: 0, stoppedBy: 'exhausted' }));
    return {
      update: (r) => bar.update(value(r), payload(r)),
      stop: (r) => {
        bar.update(value(r), payload(r));
        bar.stop();
      },
    };
  }
  if (kind === 'log') {
    let lastLog = deps.clock.now();
    return {
      update: (r) => {
        if (deps.clock.now() - lastLog < PROGRESS_LOG_EVERY_MS) return;
        lastLog = deps.clock.now();
        deps.logger.info({ sent: r.sent, malformed: r.malformed, perSecond: Math.round(r.sent / Math.max(0.001, r.elapsedMs / 1000)) }, 'simulator progress');
      },
      stop: () => undefined,
    };
  }
  return { update: () => undefined, stop: () => undefined };
}

/** Groups one batch by topic, the shape `sendBatch` wants. */
function toTopicMessages(batch: readonly { topic: string; key: string; value: string }[]) {
  const byTopic = new Map<string, Message[]>();
  for (const { topic, key, value } of batch) {
    const list = byTopic.get(topic) ?? [];
    list.push({ key, value });
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

export async function publishTraffic(source: Iterator<SimMessage>, options: PublishOptions, deps: PublishDeps): Promise<PublishResult> {
  if (!(options.rate > 0)) throw new RangeError('rate must be a positive number of messages per second');
  const full: Required<PublishDeps> = { clock: systemClock, ...deps };
  const { clock } = full;
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? Math.min(1_000, Math.max(1, options.rate / 20))));
  const bucket = new TokenBucket(options.rate, Math.max(batchSize, options.rate / 10), () => clock.now());
  const startedAt = clock.now();
  const result: PublishResult = { sent: 0, valid: 0, malformed: 0, malformedByReason: {}, batches: 0, elapsedMs: 0, stoppedBy: 'exhausted' };
  const progress = createProgress(options.progress ?? 'none', options, full);
  const bad = options.malformed;
  // Bad messages borrow the simulated clock of the traffic around them, so their content stays deterministic.
  let simulatedNow = bad?.context.now ?? 0;

  const stopReason = (): PublishResult['stoppedBy'] | null => {
    if (options.signal?.aborted) return 'signal';
    if (options.maxMessages !== undefined && result.sent >= options.maxMessages) return 'count';
    if (options.durationMs !== undefined && clock.now() - startedAt >= options.durationMs) return 'duration';
    return null;
  };

  /** Fills one batch; false when the source ran dry. */
  const fill = (batch: { topic: string; key: string; value: string }[], size: number): boolean => {
    while (batch.length < size) {
      if (bad && bad.rng.chance(bad.share)) {
        const message = randomMalformedMessage(bad.rng, { integrationId: bad.context.integrationId, now: simulatedNow });
        result.malformedByReason[message.reason] = (result.malformedByReason[message.reason] ?? 0) + 1;
        result.malformed += 1;
        batch.push(options.topic ? { ...message, topic: options.topic } : message);
        continue;
      }
      const next = source.next();
      if (next.done) return false;
      simulatedNow = Date.parse(next.value.event.occurredAt);
      result.valid += 1;
      batch.push(options.topic ? { ...next.value, topic: options.topic } : next.value);
    }
    return true;
  };

  let stoppedBy = stopReason();
  try {
    while (stoppedBy === null) {
      const size = Math.min(batchSize, (options.maxMessages ?? Infinity) - result.sent);
      const wait = bucket.waitFor(size);
      if (wait > 0) {
        const remaining = options.durationMs === undefined ? wait : options.durationMs - (clock.now() - startedAt);
        await clock.sleep(Math.max(0, Math.min(wait, remaining)), options.signal);
        stoppedBy = stopReason();
        continue;
      }
      bucket.take(size);
      const batch: { topic: string; key: string; value: string }[] = [];
      const more = fill(batch, size);
      if (batch.length > 0) {
        await full.producer.sendBatch({ topicMessages: toTopicMessages(batch), acks: -1 });
        result.sent += batch.length;
        result.batches += 1;
      }
      result.elapsedMs = clock.now() - startedAt;
      progress.update(result);
      stoppedBy = more ? stopReason() : 'exhausted';
    }
  } finally {
    result.elapsedMs = clock.now() - startedAt;
    progress.stop(result);
  }
  return { ...result, stoppedBy };
}
