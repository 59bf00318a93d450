import type { ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decodeEvent, eventKey } from '../../schemas/events/decode.js';
import { publishTraffic, TokenBucket, type Clock } from '../../services/simulator/publisher.js';
import { createRng } from '../../services/simulator/rng.js';
import { createTrafficGenerator, type SimMessage } from '../../services/simulator/traffic.js';

const START = new Date('2026-11-02T14:00:00.000Z');

/** A clock whose sleeps advance time instantly, so pacing is checked without waiting. */
function fakeClock(): Clock & { sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

function recordingProducer() {
  const batches: ProducerBatch[] = [];
  return {
    batches,
    sent: () => batches.flatMap((b) => b.topicMessages ?? []).flatMap((t) => t.messages.map((m) => ({ topic: t.topic, key: String(m.key), value: String(m.value) }))),
    sendBatch: async (batch: ProducerBatch) => {
      batches.push(batch);
      return [];
    },
  };
}

const silent = { info: () => undefined };
const traffic = (seed = 42) => createTrafficGenerator({ seed, integrationIds: ['int_a', 'int_b'], startAt: START }).messages();

describe('TokenBucket', () => {
  it('lets a full bucket go at once and then paces at the rate', () => {
    let t = 0;
    const bucket = new TokenBucket(100, 10, () => t);
    expect(bucket.waitFor(10)).toBe(0);
    bucket.take(10);
    expect(bucket.waitFor(10)).toBeCloseTo(100);
    t += 50;
    expect(bucket.waitFor(10)).toBeCloseTo(50);
    t += 1_000;
    expect(bucket.waitFor(10)).toBe(0);
  });
});

describe('publishTraffic', () => {
  it('sends exactly the requested count, keyed by eventKey, in the generator order', async () => {
    const producer = recordingProducer();
    const result = await publishTraffic(traffic(), { rate: 1_000, maxMessages: 2_500 }, { producer, logger: silent, clock: fakeClock() });
    expect(result).toMatchObject({ sent: 2_500, valid: 2_500, malformed: 0, stoppedBy: 'count' });
    const expected: SimMessage[] = [];
    const source = traffic();
    for (let i = 0; i < 2_500; i += 1) {
      const next = source.next();
      if (!next.done) expected.push(next.value);
    }
    expect(producer.sent()).toEqual(expected.map(({ topic, key, value }) => ({ topic, key, value })));
    for (const m of expected) expect(m.key).toBe(eventKey(m.event));
  });

  it('paces at the configured rate', async () => {
    const clock = fakeClock();
    const result = await publishTraffic(traffic(), { rate: 500, maxMessages: 5_000 }, { producer: recordingProducer(), logger: silent, clock });
    // 5,000 messages at 500/s take ~10 s, less the initial burst of one bucket (rate/10 messages).
    expect(result.elapsedMs / 1000).toBeGreaterThan(9.5);
    expect(result.elapsedMs / 1000).toBeLessThan(10.5);
    expect(result.batches).toBe(5_000 / 25);
  });

  it('stops after the duration with about rate × duration messages', async () => {
    const result = await publishTraffic(traffic(), { rate: 200, durationMs: 30_000 }, { producer: recordingProducer(), logger: silent, clock: fakeClock() });
    expect(result.stoppedBy).toBe('duration');
    expect(result.sent).toBeGreaterThan(200 * 30 * 0.95);
    expect(result.sent).toBeLessThan(200 * 30 * 1.1);
  });

  it('stops cleanly when aborted and returns what it sent', async () => {
    const controller = new AbortController();
    const producer = recordingProducer();
    const sendBatch = async (batch: ProducerBatch) => {
      await producer.sendBatch(batch);
      if (producer.batches.length === 3) controller.abort();
      return [];
    };
    const result = await publishTraffic(traffic(), { rate: 100, batchSize: 10, signal: controller.signal }, { producer: { sendBatch }, logger: silent, clock: fakeClock() });
    expect(result).toMatchObject({ stoppedBy: 'signal', sent: 30, batches: 3 });
  });

  it('mixes in malformed messages at the configured share, each tagged for the dead-letter topic', async () => {
    const producer = recordingProducer();
    const malformed = { share: 0.05, rng: createRng(99), context: { integrationId: 'int_a', now: START.getTime() } };
    const result = await publishTraffic(traffic(), { rate: 1_000, maxMessages: 4_000, malformed }, { producer, logger: silent, clock: fakeClock() });
    expect(result.sent).toBe(4_000);
    expect(result.malformed / result.sent).toBeCloseTo(0.05, 1);
    expect(Object.values(result.malformedByReason).reduce((a, b) => a + b, 0)).toBe(result.malformed);
    const now = () => START.getTime() + 3600_000;
    const rejected = producer.sent().filter((m) => !decodeEvent(m.value, { now, key: m.key }).ok);
    expect(rejected.length).toBe(result.malformed);
    // The valid stream is the same as without malformed messages.
    const valid = producer.sent().filter((m) => decodeEvent(m.value, { now, key: m.key }).ok);
    const plain = recordingProducer();
    await publishTraffic(traffic(), { rate: 1_000, maxMessages: valid.length }, { producer: plain, logger: silent, clock: fakeClock() });
    expect(valid).toEqual(plain.sent());
  });

  it('reports progress as log lines when asked', async () => {
    const lines: unknown[] = [];
    await publishTraffic(traffic(), { rate: 100, durationMs: 20_000, progress: 'log' }, { producer: recordingProducer(), logger: { info: (o: unknown) => lines.push(o) }, clock: fakeClock() });
    expect(lines.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses a rate that is not positive', async () => {
    await expect(publishTraffic(traffic(), { rate: 0 }, { producer: recordingProducer(), logger: silent })).rejects.toThrow(RangeError);
  });
});
