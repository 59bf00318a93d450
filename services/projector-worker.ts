import type { Kafka, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { createBatchProjector, type CheckpointHook } from '../projections/runtime/batch-projector.js';
import { createDeadLetterPublisher } from '../projections/runtime/dead-letters.js';
import { createProjectorMetrics } from '../projections/runtime/metrics.js';
import { createProjectorConsumer } from '../projections/runtime/projector-consumer.js';
import { TimelineMemo } from '../projections/runtime/timeline-memo.js';
import type { ClickHouseGateway } from '../projections/store/clickhouse-gateway.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import { PROJECTIONS, anyFromSessions, fromIntegrationsTopic, type Generations, type ProjectionName } from '../projections/store/generations.js';
import { projectionKeys } from '../projections/store/redis-keys.js';
import { tableNames } from '../projections/store/table-set.js';
import { migrate } from './clickhouse/migrations.js';
import type { Config } from './config.js';
import type { Component } from './lifecycle.js';
import type { Logger } from './logger.js';

export interface ProjectorWorker extends Component {
  ready(): boolean;
}

export interface ProjectorWorkerOptions {
  /** Where each projection is written. */
  generations: Generations;
  /** The projections this worker writes (default: all of them, as the live worker does). */
  writes?: ReadonlySet<ProjectionName>;
  /** Default: the live group. A rebuild reads in a group of its own. */
  groupId?: string;
  fromBeginning?: boolean;
  /** Per `topic:partition`, the first offset not to project: a rebuild stops exactly where the live group stands. */
  stopAt?: ReadonlyMap<string, bigint>;
}

/** The topics a writer of these projections must read. */
export function topicsFor(config: Config, writes: ReadonlySet<ProjectionName>): string[] {
  return [
    ...(anyFromSessions(writes) ? [config.kafka.topics.sessions] : []),
    ...([...writes].some(fromIntegrationsTopic) ? [config.kafka.topics.integrations] : []),
  ];
}

/** One projector worker: a member of a consumer group writing the projections to their generations. */
export function createProjectorWorker(
  config: Config,
  deps: {
    kafka: Kafka;
    clickhouse: ClickHouseGateway;
    redis: RedisClient;
    registry: Registry;
    logger: Logger;
    now: () => number;
    checkpoint?: CheckpointHook;
  },
  options: ProjectorWorkerOptions,
): ProjectorWorker {
  const writes = options.writes ?? new Set(PROJECTIONS);
  const logger = deps.logger.child({ component: 'projector', generations: options.generations });
  let producer: Producer | null = null;
  const metrics = createProjectorMetrics(deps.registry);
  const timelineMemo = new TimelineMemo(config.projector.memoSessions);
  const projectBatch = createBatchProjector(
    { tables: tableNames(options.generations), keys: projectionKeys(config.redis.keyPrefix, options.generations), writes },
    {
      clickhouse: deps.clickhouse,
      redis: deps.redis,
      now: deps.now,
      timelineMemo,
      ...(deps.checkpoint ? { checkpoint: deps.checkpoint } : {}),
      publishDeadLetters: (letters) => {
        if (!producer) throw new Error('dead-letter producer is not connected');
        return createDeadLetterPublisher(producer, config.kafka.topics.deadLetters, deps.now)(letters);
      },
    },
  );
  const consumer = createProjectorConsumer(
    {
      groupId: options.groupId ?? config.kafka.groupId,
      topics: topicsFor(config, writes),
      maxRows: config.projector.batchMaxRows,
      maxBytes: config.projector.batchMaxBytes,
      maxWaitMs: config.projector.batchMaxWaitMs,
      idleMs: config.projector.batchIdleMs,
      retryMaxMs: config.projector.sinkRetryMaxMs,
      partitionsConcurrency: Math.max(1, config.kafka.topicPartitions + 3),
      fromBeginning: options.fromBeginning ?? true,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      ...(options.stopAt ? { stopAt: options.stopAt } : {}),
    },
    // Partitions that moved may have had other writers meanwhile: what this worker remembers of their sessions may be stale.
    {
      kafka: deps.kafka,
      projectBatch,
      logger,
      metrics,
      now: deps.now,
      onOwnershipChange: () => {
        timelineMemo.forget();
        metrics.memoForgotten.inc();
      },
    },
  );

  return {
    name: 'projector',
    ready: consumer.ready,
    async start() {
      await migrate(deps.clickhouse, options.generations, logger, { cluster: config.clickhouse.cluster, only: writes });
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
