import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { decodeEvent } from '../../schemas/events/decode.js';
import type { IntegrationUpserted } from '../../schemas/events/integration-events.js';

/**
 * The current state of one integration, read back from the compacted
 * integrations topic. `integration.upserted` carries the whole state, so a
 * command that changes one field (suspend) must start from the latest one or
 * it would reset the name, tier and region.
 */
export async function readLatestUpsert(kafka: Kafka, integrationId: string, options: { timeoutMs: number; topic: string }): Promise<IntegrationUpserted | null> {
  const admin = kafka.admin();
  await admin.connect();
  // kafkajs has no manual assignment, so a throwaway group reads the topic; it is deleted afterwards.
  const groupId = `notai-keys-read-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  try {
    const offsets = await admin.fetchTopicOffsets(options.topic);
    // Read each partition up to the end it had when we looked; later writes do not matter to this command.
    const pending = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
    if (pending.size === 0) return null;

    let latest: IntegrationUpserted | null = null;
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${options.topic} after ${options.timeoutMs} ms`)), options.timeoutMs);
      void consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              if (message.key?.toString() !== integrationId) continue;
              const decoded = decodeEvent(message.value, { now: Date.now, key: integrationId });
              // Offset order is the compacted topic's own order: the last upsert read is the current one.
              if (decoded.ok && decoded.event.type === 'integration.upserted') latest = decoded.event;
            }
            const end = pending.get(batch.partition);
            if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) pending.delete(batch.partition);
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await done;
    return latest;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
