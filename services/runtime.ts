import type { Kafka } from 'kafkajs';
import { createApiServer } from './api-server.js';
import type { Registry } from 'prom-client';
import type { ClickHouseGateway } from '../projections/store/clickhouse-gateway.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import { createClickHouseGateway } from './clickhouse/create-gateway.js';
import { migrate } from './clickhouse/migrations.js';
import type { Config } from './config.js';
import { createKafka, kafkaConfigOf, prepareTopics } from './kafka.js';
import type { Component } from './lifecycle.js';
import type { Logger } from './logger.js';
import { createMetricsRegistry } from './metrics.js';
import { createReadModelResolver, readRouting } from './read-model.js';
import { createRedis } from './redis.js';

/** The clients every process shares, built once from the validated configuration. */
export interface Runtime {
  config: Config;
  logger: Logger;
  registry: Registry;
  clickhouse: ClickHouseGateway;
  redis: RedisClient;
  kafka: Kafka;
  readModel: ReturnType<typeof createReadModelResolver>;
  /** Closes the clients, last of all. */
  clients: Component;
  /** Creates topics and tables if missing: every process may run it, it is idempotent. */
  infrastructure: Component;
}

export function createRuntime(config: Config, logger: Logger, role: string): Runtime {
  const kafkaConfig = kafkaConfigOf(config.kafka);
  const registry = createMetricsRegistry({ role, region: config.region });
  const clickhouse = createClickHouseGateway(config.clickhouse);
  // Only the API process: its requests are many small concurrent commands; the projector batches its own writes.
  const redis = createRedis(config.redis, { autoPipelining: role === 'api' });
  const kafka = createKafka(kafkaConfig, logger);
  const readModel = createReadModelResolver({ clickhouse, redis, logger }, { prefix: config.redis.keyPrefix, refreshMs: 1_000 });
  return {
    config,
    logger,
    registry,
    clickhouse,
    redis,
    kafka,
    readModel,
    clients: {
      name: 'clients',
      start: async () => undefined,
      stop: async () => {
        redis.disconnect();
        await clickhouse.close();
      },
    },
    infrastructure: {
      name: 'infrastructure',
      async start() {
        await prepareTopics(kafka, kafkaConfig);
        // A rebuild is how a projection whose shape changed gets new tables, so it must start while the serving ones are old.
        await migrate(clickhouse, (await readRouting(redis, config.redis.keyPrefix)).generations, logger, {
          cluster: config.clickhouse.cluster,
          onMismatch: role === 'rebuild' ? 'warn' : 'fail',
        });
        await readModel.start();
      },
      stop: () => readModel.stop(),
    },
  };
}

/** The API server over a runtime's clients: the same wiring for the API process and the all-in-one process. */
export function runtimeApiServer(runtime: Runtime) {
  return createApiServer(runtime.config, {
    readModel: runtime.readModel.current,
    redis: runtime.redis,
    registry: runtime.registry,
    logger: runtime.logger,
    ready: storesReady(runtime),
    now: Date.now,
  });
}

/** Readiness of the read side: both stores answer. */
export function storesReady(runtime: Pick<Runtime, 'clickhouse' | 'redis'>) {
  return async (): Promise<Record<string, boolean>> => {
    const [clickhouse, redis] = await Promise.all([
      runtime.clickhouse.ping().catch(() => false),
      runtime.redis.ping().then((r) => r === 'PONG').catch(() => false),
    ]);
    return { clickhouse, redis };
  };
}
