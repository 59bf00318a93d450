import { loadConfig } from '../services/config.js';
import { createKafka } from '../services/kafka.js';
import { createLogger } from '../services/logger.js';
import { startRawConsumer } from './raw-kafka.js';

/**
 * Child process: the raw-consumer baseline, in its own process like the
 * projector it is compared with, configured from the same environment.
 * The harness measures it from outside, by its committed offsets.
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'bench-raw-consumer' });
const groupId = process.env.BENCH_GROUP_ID;
if (!groupId || !config.kafka.brokers) throw new Error('BENCH_GROUP_ID and KAFKA_BROKERS are required');
const kafka = createKafka({ ...config.kafka, brokers: config.kafka.brokers }, logger);
const consumer = await startRawConsumer(kafka, { groupId, topic: config.kafka.topics.sessions, partitions: config.kafka.topicPartitions });

const stop = (): void => {
  void consumer.disconnect().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
