import type { TestProject } from 'vitest/node';
import { startKafkaBroker, type KafkaBroker } from '../../provision/kafka-broker.js';
import { startRedisServer, type RedisServer } from '../../provision/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    redisUrl: string;
  }
}

let kafka: KafkaBroker | null = null;
let redis: RedisServer | null = null;

/** Real services for the whole run, started once; files that need neither pay nothing but this start-up. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const [broker, server] = await Promise.all([startKafkaBroker({ log: (m) => console.log(`[kafka] ${m}`) }), startRedisServer()]);
  kafka = broker;
  redis = server;
  console.log(`[support] Kafka ${broker.brokers.join(',')} and Redis ${server.url} ready in ${Math.round(performance.now() - started)} ms`);
  project.provide('kafkaBrokers', broker.brokers.join(','));
  project.provide('redisUrl', server.url);
  return async () => {
    await Promise.allSettled([kafka?.stop(), redis?.stop()]);
  };
}
