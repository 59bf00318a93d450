import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../../provision/free-port.js';
import { startKafkaCluster, type KafkaCluster } from '../../provision/kafka-broker.js';
import { eventually } from '../support/poll.js';

const topic = `provision-cluster-${randomBytes(3).toString('hex')}`;
let cluster: KafkaCluster;
let kafka: Kafka;

async function produce(from: number, count: number): Promise<void> {
  // Generous retries: after a SIGKILL the controller needs broker.session.timeout.ms (6 s),
  // plus a quorum election if the victim led it, before leaders move.
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
  await producer.connect();
  // One message per send. kafkajs 2.2.4 silently drops messages when a multi-broker send
  // fails on one broker and its partitions move to a broker that already answered: the
  // retry skips brokers with a response (sendMessages.js responsePerBroker; tulios/kafkajs#1303).
  // A send that touches one partition cannot hit that. Retries may still duplicate.
  for (let i = from; i < from + count; i++) {
    await producer.send({ topic, acks: -1, messages: [{ key: `k${i % 6}`, value: String(i) }] });
  }
  await producer.disconnect();
}

describe('provisioned 3-node Kafka cluster', () => {
  beforeAll(async () => {
    const started = performance.now();
    cluster = await startKafkaCluster(3, { log: (m) => console.log(`[kafka-cluster] ${m}`) });
    console.log(`[kafka-cluster] 3 nodes ready in ${Math.round(performance.now() - started)} ms`);
    kafka = new Kafka({ clientId: 'provision-cluster-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('replicates a topic over three brokers', async () => {
    const admin = kafka.admin();
    await admin.connect();
    // Every node listed every node when the cluster came up, but on a loaded machine a broker whose heartbeats
    // to the controller were late is fenced for a moment and leaves the metadata until its next heartbeat.
    const nodeIds = await eventually(async () => (await admin.describeCluster()).brokers.map((b) => b.nodeId).sort(), {
      until: (ids) => ids.length === 3,
      what: 'all three brokers in the cluster metadata',
    });
    expect(nodeIds).toEqual([1, 2, 3]);
    // No replicationFactor: the cluster default (min(3, n) = 3) applies.
    // waitForLeaders would bail: kafkajs only retries LEADER_NOT_AVAILABLE, but a KRaft
    // broker that has not yet applied the new topic answers UNKNOWN_TOPIC_OR_PARTITION
    // (tulios/kafkajs#1563). So create, then poll the metadata.
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, numPartitions: 3 }] });
    const meta = await eventually(async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0], {
      until: (t) => t?.partitions.length === 3 && t.partitions.every((p) => p.leader >= 0),
      what: 'leaders for the new topic',
    });
    expect(meta?.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
    await admin.disconnect();
  });

  it('keeps serving while one node is killed, and the node rejoins on restart', async () => {
    await produce(0, 30);
    const victim = cluster.nodes[2];
    if (!victim) throw new Error('no node 3');
    victim.kill('SIGKILL');
    const killed = performance.now();
    await produce(30, 30);
    console.log(`[kafka-cluster] produce after SIGKILL of node 3 took ${Math.round(performance.now() - killed)} ms`);

    const consumer = kafka.consumer({ groupId: `g-${randomBytes(3).toString('hex')}` });
    const seen = new Set<string>();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.add(String(message.value)) });
    try {
      await eventually(() => seen.size, { until: (n) => n >= 60, timeoutMs: 60_000, what: '60 messages' });
    } finally {
      await consumer.disconnect();
    }
    expect(seen.size).toBe(60);

    await victim.restart();
    const admin = kafka.admin();
    await admin.connect();
    try {
      // The restarted node is back once the controller lists it again; registration takes a moment after its port opens.
      await eventually(async () => (await admin.describeCluster()).brokers.length, { until: (n) => n === 3, timeoutMs: 30_000, what: 'the restarted node listed by the cluster' });
    } finally {
      await admin.disconnect();
    }
  });

  it('stop() closes every port', async () => {
    await cluster.stop();
    for (const address of cluster.brokers) expect(await isPortOpen(Number(address.split(':')[1]))).toBe(false);
    expect(cluster.nodes.every((n) => n.pid === undefined)).toBe(true);
  });
});
