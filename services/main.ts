import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { startKafkaBroker } from '../provision/kafka-broker.js';
import { startRedisServer } from '../provision/redis-server.js';
import { loadConfig } from './config.js';
import { buildApiKeyIssued, buildIntegrationUpserted, mintApiKey } from './keys/api-keys.js';
import { runComponents, type Component } from './lifecycle.js';
import { createLogger } from './logger.js';
import { liveProjector } from './generation-follower.js';
import { createRuntime, runtimeApiServer } from './runtime.js';
import { publishTraffic } from './simulator/publisher.js';
import { createTrafficGenerator } from './simulator/traffic.js';
import { eventKey } from '../schemas/events/decode.js';

/**
 * Everything on one machine, for a first look: a Kafka broker and a
 * redis-server of its own (unless KAFKA_BROKERS / REDIS_URL name existing
 * ones), embedded ClickHouse, one projector, the API, and simulated pixel
 * traffic for two demo integrations. Prints a working API key.
 * The run is ephemeral: its data directory is wiped at start.
 */
const DEMO = [
  { integrationId: 'int_demo_university', name: 'Demo University', tier: 'pro' as const },
  { integrationId: 'int_demo_college', name: 'Demo College', tier: 'starter' as const },
];
const rate = Number(process.env.SIMULATOR_RATE ?? 200);

const provisioned: Component[] = [];
const bootLog = createLogger({ level: process.env.LOG_LEVEL ?? 'info', name: 'notai-local' });
const env: NodeJS.ProcessEnv = { ...process.env };
env.DATA_DIR ??= '.data/local';
await rm(resolve(env.DATA_DIR), { recursive: true, force: true });
if (!env.KAFKA_BROKERS) {
  bootLog.info('starting a local Kafka broker (first run fetches the broker jars with Maven)');
  const broker = await startKafkaBroker({ log: (m) => bootLog.info(m) });
  env.KAFKA_BROKERS = broker.brokers.join(',');
  provisioned.push({ name: 'kafka-broker', start: async () => undefined, stop: () => broker.stop() });
}
if (!env.REDIS_URL) {
  const redis = await startRedisServer();
  env.REDIS_URL = redis.url;
  provisioned.push({ name: 'redis-server', start: async () => undefined, stop: () => redis.stop() });
}

const config = loadConfig(env);
const logger = createLogger({ level: config.logLevel, name: 'notai-local' });
const runtime = createRuntime(config, logger, 'all-in-one');
const worker = liveProjector(config, { ...runtime, now: Date.now });
const api = runtimeApiServer(runtime);

const traffic = new AbortController();
let trafficDone: Promise<unknown> = Promise.resolve();
const simulator: Component = {
  name: 'simulator',
  async start() {
    const producer = runtime.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const keys = DEMO.map((d) => ({ ...d, key: mintApiKey() }));
    const deps = { now: Date.now };
    const events = keys.flatMap((d) => [
      buildIntegrationUpserted({ integrationId: d.integrationId, name: d.name, tier: d.tier, region: config.region, status: 'active' }, deps),
      buildApiKeyIssued(d.integrationId, d.key, deps),
    ]);
    await producer.send({ topic: config.kafka.topics.integrations, acks: -1, messages: events.map((e) => ({ key: eventKey(e), value: JSON.stringify(e) })) });
    const generator = createTrafficGenerator({ seed: 42, integrationIds: DEMO.map((d) => d.integrationId), startAt: new Date(Date.now() - 3_600_000), sessionsPerSecond: rate / 23 });
    trafficDone = publishTraffic(generator.messages(), { rate, progress: 'none', signal: traffic.signal, topic: config.kafka.topics.sessions }, { producer, logger })
      .catch((err: unknown) => logger.error({ err }, 'simulator stopped'))
      .finally(() => producer.disconnect());
    const [first, second] = keys;
    const url = api.url();
    process.stdout.write(
      [
        '',
        `Not AI read model is running at ${url}  (simulated traffic: ${rate} events/s)`,
        `  API key for ${first!.integrationId}: ${first!.key.rawKey}`,
        `  API key for ${second!.integrationId}: ${second!.key.rawKey}`,
        '',
        `  curl -s ${url}/v1/sessions?limit=3 -H 'Authorization: Bearer ${first!.key.rawKey}'`,
        `  curl -s ${url}/v1/stats -H 'x-api-key: ${first!.key.rawKey}'`,
        `  Swagger UI: ${url}/swagger    metrics: ${url}/metrics`,
        '  Ctrl-C stops everything.',
        '',
      ].join('\n') + '\n',
    );
  },
  async stop() {
    traffic.abort();
    await trafficDone;
  },
};

await runComponents([...provisioned, runtime.clients, runtime.infrastructure, worker, api, simulator], logger);
