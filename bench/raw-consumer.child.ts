import { writeFileSync } from 'node:fs';
import { decodeEvent } from '../schemas/events/decode.js';
import { loadConfig } from '../services/config.js';
import { createKafka } from '../services/kafka.js';
import { createLogger } from '../services/logger.js';
import { CONSUMER_WORK, startRawConsumer, type ConsumerWork, type WorkOutcomes } from './raw-kafka.js';

/**
 * Child process: the raw-consumer baseline, in its own process like the
 * projector it is compared with, configured from the same environment.
 * The harness measures it from outside, by its committed offsets.
 *
 * BENCH_CONSUMER_WORK says what it does with each message besides reading it:
 * nothing (the default), `parse` (JSON.parse alone) or `decode` (decodeEvent
 * with the key checked, exactly as the projector judges its input). It never
 * writes anything. With work to do it writes, on SIGTERM, how many messages
 * came out valid and how many were refused to BENCH_WORK_OUTCOMES, which shows
 * the harness that the work was done on every message.
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'bench-raw-consumer' });
const groupId = process.env.BENCH_GROUP_ID;
if (!groupId || !config.kafka.brokers) throw new Error('BENCH_GROUP_ID and KAFKA_BROKERS are required');
const work = (process.env.BENCH_CONSUMER_WORK ?? 'none') as ConsumerWork;
if (!CONSUMER_WORK.includes(work)) throw new Error(`BENCH_CONSUMER_WORK must be one of ${CONSUMER_WORK.join(', ')}`);
const outcomesFile = process.env.BENCH_WORK_OUTCOMES;
if (work !== 'none' && !outcomesFile) throw new Error('BENCH_WORK_OUTCOMES is required with BENCH_CONSUMER_WORK');

const outcomes: WorkOutcomes = { valid: 0, refused: 0 };
const judges: Record<Exclude<ConsumerWork, 'none'>, (value: Buffer | null, key: Buffer | null) => boolean> = {
  parse: (value) => {
    try {
      return value !== null && typeof JSON.parse(value.toString('utf8')) === 'object';
    } catch {
      return false;
    }
  },
  decode: (value, key) => decodeEvent(value, { now: Date.now, key: key?.toString('utf8') ?? null }).ok,
};
const judge = work === 'none' ? undefined : judges[work];

const kafka = createKafka({ ...config.kafka, brokers: config.kafka.brokers }, logger);
const consumer = await startRawConsumer(kafka, {
  groupId,
  topic: config.kafka.topics.sessions,
  partitions: config.kafka.topicPartitions,
  ...(judge && {
    onBatch: (batch) => {
      for (const message of batch.messages) outcomes[judge(message.value, message.key) ? 'valid' : 'refused'] += 1;
    },
  }),
});

const stop = (): void => {
  if (outcomesFile) writeFileSync(outcomesFile, JSON.stringify(outcomes));
  void consumer.disconnect().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
