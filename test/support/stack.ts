import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { inject } from 'vitest';
import type { ClickHouseGateway } from '../../projections/store/clickhouse-gateway.js';
import type { RedisClient } from '../../projections/store/redis-client.js';
import { eventKey, type ContractEvent } from '../../schemas/events/decode.js';
import { createClickHouseGateway } from '../../services/clickhouse/create-gateway.js';
import { migrate } from '../../services/clickhouse/migrations.js';
import { loadConfig, type Config } from '../../services/config.js';
import { createKafka, ensureTopics } from '../../services/kafka.js';
import type { Logger } from '../../services/logger.js';
import { createMetricsRegistry } from '../../services/metrics.js';
import { createRedis } from '../../services/redis.js';
import { eventually } from './poll.js';

export interface TestStack {
  config: Config;
  clickhouse: ClickHouseGateway;
  redis: RedisClient;
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  logger: Logger;
  registry: Registry;
  /** Publishes contract events to their topic with their contract key. */
  publish(events: readonly ContractEvent[]): Promise<void>;
  /** Publishes raw bytes (for malformed input). */
  publishRaw(topic: string, messages: readonly { key: string | null; value: string | Buffer }[]): Promise<void>;
  /**
   * Resolves once the stack's consumer group has committed every published
   * session event: a batch commits only after all of its writes landed, so
   * then every projection holds it, not only the first to show it.
   */
  drained(): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Short name of the suite, used in topic namespace and key prefix. */
  name: string;
  /** Environment overrides on top of the test defaults. */
  env?: Record<string, string>;
  /** An already-running ClickHouse (e.g. the HTTP endpoint over the embedded engine); default: embedded in a temp dir. */
  clickhouse?: { gateway: ClickHouseGateway; stop(): Promise<void> };
  /** Collects every log line of the suite at debug level (for checks on what gets logged). */
  logLines?: string[];
}

/**
 * A per-suite slice of the shared services: its own topic namespace, Redis key
 * prefix and ClickHouse directory, so suites running side by side cannot see
 * each other's data.
 */
export async function startStack(options: StackOptions): Promise<TestStack> {
  const run = `${options.name}-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), `notai-${options.name}-`));
  const config = loadConfig({
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    KAFKA_BROKERS: inject('kafkaBrokers'),
    KAFKA_TOPIC_NAMESPACE: `t.${run}.`,
    KAFKA_GROUP_ID: `projector-${run}`,
    KAFKA_TOPIC_PARTITIONS: '3',
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `t:${run}:`,
    CLICKHOUSE_PATH: join(dir, 'clickhouse'),
    API_PORT: '0',
    API_DRAIN_MS: '0',
    BATCH_MAX_WAIT_MS: '50',
    SINK_RETRY_MAX_MS: '1000',
    ...options.env,
  });
  const logger = options.logLines
    ? pino({ level: 'debug' }, { write: (line: string) => void options.logLines!.push(line) })
    : pino({ level: config.logLevel });
  const registry = createMetricsRegistry({ suite: options.name });
  const clickhouse = options.clickhouse?.gateway ?? createClickHouseGateway(config.clickhouse);
  const redis = createRedis(config.redis);
  const kafka = createKafka({ ...config.kafka, brokers: config.kafka.brokers ?? [] }, logger);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { ...config.kafka, brokers: config.kafka.brokers ?? [] });
  await migrate(clickhouse, 1, logger);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();

  const topicOf = (event: ContractEvent): string => ('sessionId' in event ? config.kafka.topics.sessions : config.kafka.topics.integrations);

  return {
    config,
    clickhouse,
    redis,
    kafka,
    admin,
    producer,
    logger,
    registry,
    async publish(events) {
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const event of events) {
        const topic = topicOf(event);
        const list = byTopic.get(topic) ?? [];
        list.push({ key: eventKey(event), value: JSON.stringify(event) });
        byTopic.set(topic, list);
      }
      await withMetadataRetry(() => producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }));
    },
    async publishRaw(topic, messages) {
      await withMetadataRetry(() => producer.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value })) }));
    },
    async drained() {
      await eventually(() => groupLag(admin, config.kafka.groupId, config.kafka.topics.sessions), { until: (lag) => lag === 0, what: 'the projector to commit every session event' });
    },
    async stop() {
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      redis.disconnect();
      await clickhouse.close().catch(() => undefined);
      await options.clickhouse?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Messages of `topic` the group has not committed yet (high watermark minus committed offset, per partition). */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [[committed], ends] = await Promise.all([admin.fetchOffsets({ groupId, topics: [topic] }), admin.fetchTopicOffsets(topic)]);
  const done = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  return ends.reduce((lag, p) => {
    const at = done.get(p.partition) ?? -1;
    return lag + Number(p.high) - (at < 0 ? Number(p.low) : at);
  }, 0);
}

/**
 * Right after topic creation a broker can still answer UNKNOWN_TOPIC_OR_PARTITION
 * to a producer whose metadata predates the leaders; that answer is transient.
 */
async function withMetadataRetry<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (attempt >= 10 || (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE' && type !== 'NOT_LEADER_FOR_PARTITION')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
    }
  }
}
