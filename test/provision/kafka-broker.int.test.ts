import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../../provision/free-port.js';
import { startKafkaBroker, type KafkaBroker } from '../../provision/kafka-broker.js';
import { eventually } from '../support/poll.js';

// Restart and port checks only make sense for a broker this file owns.
const external = Boolean(process.env.KAFKA_BROKERS);
const KEYS = Array.from({ length: 10 }, (_, i) => `key-${i}`);

let broker: KafkaBroker;
let kafka: Kafka;
const topic = `provision-check-${randomBytes(3).toString('hex')}`;
const group = `provision-check-${randomBytes(3).toString('hex')}`;

/** 100 messages: 10 per key, each value `<key>:<round>:<seq>` so ordering per key is checkable. */
async function produceRound(round: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const messages = Array.from({ length: 100 }, (_, i) => {
    const key = KEYS[i % KEYS.length] ?? 'none';
    return { key, value: `${key}:${round}:${Math.floor(i / KEYS.length)}` };
  });
  // One message per send, in order: per-key order then rests on the broker, not on batching.
  for (const message of messages) await producer.send({ topic, acks: -1, messages: [message] });
  await producer.disconnect();
}

/** Consumes with the shared group until `count` messages of `round` arrived; returns them per key. */
async function consumeRound(round: number, count: number): Promise<Map<string, number[]>> {
  const consumer: Consumer = kafka.consumer({ groupId: group });
  const seen: { key: string; round: number; seq: number }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const [key = '', r = '', seq = ''] = String(message.value).split(':');
      seen.push({ key, round: Number(r), seq: Number(seq) });
    },
  });
  try {
    await eventually(() => seen.length, { until: (n) => n >= count, timeoutMs: 60_000, what: `${count} messages` });
  } finally {
    await consumer.disconnect(); // commits the offsets consumed so far
  }
  expect(seen.length).toBe(count);
  expect(seen.every((m) => m.round === round)).toBe(true);
  const perKey = new Map<string, number[]>();
  for (const m of seen) perKey.set(m.key, [...(perKey.get(m.key) ?? []), m.seq]);
  return perKey;
}

function expectInOrder(perKey: Map<string, number[]>): void {
  expect([...perKey.keys()].sort()).toEqual([...KEYS].sort());
  for (const seqs of perKey.values()) expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

describe('provisioned Kafka broker', () => {
  beforeAll(async () => {
    const started = performance.now();
    broker = await startKafkaBroker({ log: (m) => console.log(`[kafka] ${m}`) });
    console.log(`[kafka] startKafkaBroker() returned in ${Math.round(performance.now() - started)} ms (pid ${broker.pid})`);
    kafka = new Kafka({ clientId: 'provision-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
    const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    expect(meta?.partitions).toHaveLength(3);
    await admin.disconnect();
  });

  afterAll(async () => {
    await broker?.stop();
  });

  it('delivers 100 keyed messages exactly once, in order per key, to a consumer group', async () => {
    await produceRound(1);
    expectInOrder(await consumeRound(1, 100));
  });

  it.skipIf(external)('restarts on the same port, keeping data and committed offsets', async () => {
    const before = broker.pid;
    const [address] = broker.brokers;
    const started = performance.now();
    await broker.restart();
    console.log(`[kafka] restart() took ${Math.round(performance.now() - started)} ms`);
    expect(broker.brokers).toEqual([address]);
    expect(broker.pid).toBeDefined();
    expect(broker.pid).not.toBe(before);
    await produceRound(2);
    // The group resumes after round 1, so only the new 100 arrive.
    expectInOrder(await consumeRound(2, 100));
  });

  it.skipIf(external)('stop() ends the process and closes the port', async () => {
    const port = Number(broker.brokers[0]?.split(':')[1]);
    await broker.stop();
    expect(broker.pid).toBeUndefined();
    expect(await isPortOpen(port)).toBe(false);
  });
});
