import { decodeEvent } from '../schemas/events/decode.js';
import { loadConfig } from '../services/config.js';
import { createKafka } from '../services/kafka.js';
import { createLogger } from '../services/logger.js';
import { startRawConsumer } from './raw-kafka.js';

/**
 * Child process: the raw-consumer baseline, in its own process like the
 * projector it is compared with, configured from the same environment.
 * The harness measures it from outside, by its committed offsets.
 *
 * With BENCH_DECODE=1 it also decodes and validates every message exactly as
 * the projector does (decodeEvent, key checked) and writes nothing: the
 * ceiling of any projector that must judge each event before it projects it.
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'bench-raw-consumer' });
const groupId = process.env.BENCH_GROUP_ID;
if (!groupId || !config.kafka.brokers) throw new Error('BENCH_GROUP_ID and KAFKA_BROKERS are required');
const decodes = process.env.BENCH_DECODE === '1';
const outcomes = { valid: 0, refused: 0 };
const kafka = createKafka({ ...config.kafka, brokers: config.kafka.brokers }, logger);
const consumer = await startRawConsumer(kafka, {
  groupId,
  topic: config.kafka.topics.sessions,
  partitions: config.kafka.topicPartitions,
  ...(decodes && {
    onBatch: (batch) => {
      for (const message of batch.messages) {
        const decoded = decodeEvent(message.value, { now: Date.now, key: message.key?.toString('utf8') ?? null });
        outcomes[decoded.ok ? 'valid' : 'refused'] += 1;
      }
    },
  }),
});

const stop = (): void => {
  // The counts are the proof the decoding ran (and what it found), for the child's log.
  if (decodes) logger.info(outcomes, 'decoded');
  void consumer.disconnect().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
