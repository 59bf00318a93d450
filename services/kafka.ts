import { Kafka, logLevel, type Admin, type LogEntry } from 'kafkajs';
import type { TopicSet } from '../schemas/events/topics.js';
import { ConfigError, type Config } from './config.js';
import type { Logger } from './logger.js';

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  topics: TopicSet;
  topicPartitions: number;
  replicationFactor: number;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs' own logging into pino so one process has one log stream. */
function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      child[LEVELS[level] ?? 'info'](extra, message);
    };
}

/** The Kafka slice of the configuration, once brokers are known: every entry point needs them. */
export function kafkaConfigOf(config: Config['kafka']): KafkaConfig {
  if (config.brokers === undefined || config.brokers.length === 0) {
    throw new ConfigError('KAFKA_BROKERS is not set: export KAFKA_BROKERS=host:port[,host:port] (e.g. KAFKA_BROKERS=127.0.0.1:9092) and run again.');
  }
  return { ...config, brokers: config.brokers };
}

export function createKafka(config: KafkaConfig, logger: Logger): Kafka {
  // Every producer here keys its messages; the default (murmur2) partitioner is the one we want, no warning needed.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
  });
}

/**
 * Creates the contract's topics if missing. The integrations topic is compacted:
 * the latest upsert per integration and the latest state of each key survive.
 */
export async function ensureTopics(admin: Admin, config: KafkaConfig): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = [
    { topic: config.topics.sessions, numPartitions: config.topicPartitions, configEntries: [] },
    {
      topic: config.topics.integrations,
      numPartitions: Math.min(config.topicPartitions, 3),
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
    { topic: config.topics.deadLetters, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(30 * 24 * 3600 * 1000) }] },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length === 0) return;
  try {
    await admin.createTopics({
      waitForLeaders: false,
      topics: wanted.map((t) => ({ ...t, replicationFactor: config.replicationFactor })),
    });
  } catch (error) {
    // Another process may have created them between our list and create: that is the state we wanted.
    const listed = new Set(await admin.listTopics());
    if (!wanted.every((t) => listed.has(t.topic))) throw error;
  }
  await waitForLeaders(admin, wanted.map((t) => t.topic));
}

/** Connects an admin client just long enough to create the contract's topics. */
export async function prepareTopics(kafka: Kafka, config: KafkaConfig): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, config);
  } finally {
    await admin.disconnect();
  }
}

/** createTopics returns before every broker's metadata cache knows the leaders; producing too early fails. */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      if (meta.length === topics.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** kafkajs marks the errors worth asking again on (`retriable`); its classes are not importable from ESM, so recognised by shape. */
export function isRetriableKafkaError(error: unknown): boolean {
  return error instanceof Error && error.name.startsWith('KafkaJS') && (error as { retriable?: unknown }).retriable === true;
}

/**
 * Asks the broker again while it answers with a retriable error (a group
 * coordinator loading or moving), for up to `forMs`. kafkajs' consumers and
 * most of its admin calls retry these with the client's retry settings, but
 * `admin.fetchOffsets` does not: a tool that polls committed offsets for a
 * long time (a rebuild reading its progress) would otherwise die of one
 * while its consumer carried on. Wrapping a call kafkajs already retries
 * would only multiply its retries.
 */
export async function askAgainWhileRetriable<T>(
  ask: () => Promise<T>,
  options: { what: string; logger: Logger; forMs?: number; pauseMs?: number },
): Promise<T> {
  const { what, logger, forMs = 60_000, pauseMs = 500 } = options;
  const since = Date.now();
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      if (!isRetriableKafkaError(error) || Date.now() - since >= forMs) throw error;
      logger.warn({ err: error }, `${what}: the broker answered with a retriable error; asking again`);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}
