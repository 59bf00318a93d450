import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { createBatchProjector, type BatchCheckpoint } from '../projections/runtime/batch-projector.js';
import { createDeadLetterPublisher } from '../projections/runtime/dead-letters.js';
import { createProjectorMetrics } from '../projections/runtime/metrics.js';
import { createProjectorConsumer } from '../projections/runtime/projector-consumer.js';
import type { ClickHouseGateway } from '../projections/store/clickhouse-gateway.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import { projectionKeys } from '../projections/store/redis-keys.js';
import { tableNames } from '../projections/store/table-set.js';
import { migrate } from './clickhouse/migrations.js';
import type { Config } from './config.js';
import type { Component } from './lifecycle.js';
import type { Logger } from './logger.js';

export interface ProjectorWorker extends Component {
  ready(): boolean;
}

/**
 * Each generation of the projections has its own consumer group, so a rebuild
 * reads from the earliest offsets without touching the live group, and workers
 * that later move to the new generation continue from the rebuild's commits.
 */
export function generationGroupId(groupId: string, generation: number): string {
  return generation === 1 ? groupId : `${groupId}.g${generation}`;
}

/** One projector worker: a member of the consumer group writing one generation of the projections. */
export function createProjectorWorker(
  config: Config,
  deps: {
    kafka: Kafka;
    clickhouse: ClickHouseGateway;
    redis: RedisClient;
    registry: Registry;
    logger: Logger;
    now: () => number;
    checkpoint?: (point: BatchCheckpoint) => void;
  },
  options: { generation: number; groupId?: string; fromBeginning?: boolean } = { generation: 1 },
): ProjectorWorker {
  const logger = deps.logger.child({ component: 'projector', generation: options.generation });
  let producer: Producer | null = null;
  const metrics = createProjectorMetrics(deps.registry);
  const projectBatch = createBatchProjector(
    { tables: tableNames(options.generation), keys: projectionKeys(config.redis.keyPrefix, options.generation) },
    {
      clickhouse: deps.clickhouse,
      redis: deps.redis,
      now: deps.now,
      ...(deps.checkpoint ? { checkpoint: deps.checkpoint } : {}),
      publishDeadLetters: (letters) => {
        if (!producer) throw new Error('dead-letter producer is not connected');
        return createDeadLetterPublisher(producer, config.kafka.topics.deadLetters, deps.now)(letters);
      },
    },
  );
  const consumer = createProjectorConsumer(
    {
      groupId: options.groupId ?? generationGroupId(config.kafka.groupId, options.generation),
      topics: [config.kafka.topics.sessions, config.kafka.topics.integrations],
      maxRows: config.projector.batchMaxRows,
      maxBytes: config.projector.batchMaxBytes,
      maxWaitMs: config.projector.batchMaxWaitMs,
      retryMaxMs: config.projector.sinkRetryMaxMs,
      partitionsConcurrency: Math.max(1, config.kafka.topicPartitions + 3),
      fromBeginning: options.fromBeginning ?? true,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    },
    { kafka: deps.kafka, projectBatch, logger, metrics, now: deps.now },
  );

  return {
    name: 'projector',
    ready: consumer.ready,
    async start() {
      await migrate(deps.clickhouse, options.generation, logger, { cluster: config.clickhouse.cluster });
      producer = deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await producer.connect();
      await consumer.start();
    },
    async stop() {
      await consumer.stop();
      await producer?.disconnect();
    },
  };
}
