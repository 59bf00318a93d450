import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { freePort } from '../provision/free-port.js';
import { startKafkaBroker } from '../provision/kafka-broker.js';
import { spawnLogged, stopProcess, waitUntil } from '../provision/processes.js';
import { startRedisServer } from '../provision/redis-server.js';
import type { ClickHouseGateway } from '../projections/store/clickhouse-gateway.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import { createHttpGateway } from '../services/clickhouse/http-driver.js';
import { migrate } from '../services/clickhouse/migrations.js';
import { loadConfig, type Config } from '../services/config.js';
import { createKafka, ensureTopics } from '../services/kafka.js';
import { createRedis } from '../services/redis.js';
import { REPO_ROOT } from './repo-root.js';
import { METER_TOTALS_PATH, type StatementTotals } from './clickhouse-meter.js';
import { log } from './progress.js';
import { httpGet } from './stats.js';

/**
 * The real services of one run: a Kafka broker and a redis-server on free
 * ports, and the ClickHouse engine (chdb) in a temp dir served over the
 * ClickHouse HTTP protocol by a process of its own (bench/clickhouse.child.ts).
 * The projector, the API and the harness all reach it with
 * CLICKHOUSE_DRIVER=http: that is the scale-out shape (ClickHouse is a server,
 * not inside the projector), and it is the only way they can share one
 * engine, since chdb lets one process open a data path at a time.
 */
export interface BenchEnvironment {
  run: string;
  dir: string;
  config: Config;
  /** The environment every child process starts with. */
  childEnv: NodeJS.ProcessEnv;
  logger: Logger;
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  /** The harness's own ClickHouse client: the same driver and endpoint the children use. */
  clickhouse: ClickHouseGateway;
  /** Times every statement on its way to the engine (children and harness alike). */
  clickhouseMeter: { take(): Promise<Record<string, StatementTotals>> };
  redis: RedisClient;
  /** The service processes and the harness, for CPU accounting. */
  servicePids(): Record<string, number | undefined>;
  stop(): Promise<void>;
}

/** High enough that the rate limiter counts every request but never refuses one. */
export const BENCH_RATE_LIMITS = 'free=60,starter=300,pro=1200,enterprise=1000000000';

export async function startEnvironment(extraChildEnv: Record<string, string> = {}): Promise<BenchEnvironment> {
  const run = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), 'notai-bench-'));
  // BENCH_KEEP_DIR=1 keeps the run directory (child logs, ClickHouse data) for a post-mortem.
  const keep = process.env.BENCH_KEEP_DIR === '1';
  const stops: (() => Promise<void>)[] = [async () => (keep ? log(`run directory kept: ${dir}`) : rm(dir, { recursive: true, force: true }))];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => log(`cleanup step failed: ${String(err)}`));
  };
  try {
    const started = performance.now();
    const starting = [startKafkaBroker({ log: (m) => log(`kafka: ${m}`) }), startRedisServer(), startEngine(dir)] as const;
    // Whatever did start is stopped with the rest, also when another service failed to.
    const settled = await Promise.allSettled(starting);
    for (const service of settled) if (service.status === 'fulfilled') stops.push(() => service.value.stop());
    const failed = settled.find((service) => service.status === 'rejected');
    if (failed) throw failed.reason;
    const [broker, redisServer, engine] = await Promise.all(starting);
    log(`services up in ${Math.round(performance.now() - started)} ms: kafka ${broker.brokers.join(',')}, ${redisServer.url}, clickhouse ${engine.url} (pid ${engine.pid})`);
    const clickhouseMeter = {
      async take(): Promise<Record<string, StatementTotals>> {
        const answer = await httpGet(`${engine.url}${METER_TOTALS_PATH}`);
        if (answer.status !== 200) throw new Error(`the ClickHouse meter answered ${answer.status}`);
        return JSON.parse(answer.body) as Record<string, StatementTotals>;
      },
    };

    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      // BENCH_LOG_LEVEL=info shows the children's start-up and batch logs (in <run dir>/<child>.log) when diagnosing.
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_TOPIC_NAMESPACE: `bench.${run}.`,
      KAFKA_GROUP_ID: `projector-${run}`,
      // The production default: six partitions, so the projector's group commit spans several fetches.
      KAFKA_TOPIC_PARTITIONS: '6',
      REDIS_URL: redisServer.url,
      REDIS_KEY_PREFIX: `b:${run}:`,
      CLICKHOUSE_DRIVER: 'http',
      CLICKHOUSE_URL: engine.url,
      API_HOST: '127.0.0.1',
      API_CURSOR_SECRET: `bench-cursor-secret-${run}`,
      RATE_LIMITS: BENCH_RATE_LIMITS,
      ...extraChildEnv,
    };
    // A cluster setting from the caller's shell would point the children at topologies this run does not have.
    delete childEnv.REDIS_CLUSTER_NODES;
    delete childEnv.CLICKHOUSE_CLUSTER;
    const config = loadConfig(childEnv);
    // kafkajs logs transient errors it retries (leader moves right after topic creation); the harness fails loudly on real ones.
    const logger = pino({ level: 'fatal' });
    const kafkaConfig = { ...config.kafka, brokers: config.kafka.brokers ?? [] };
    const kafka = createKafka(kafkaConfig, logger);
    const admin = kafka.admin();
    await admin.connect();
    stops.push(() => admin.disconnect());
    await ensureTopics(admin, kafkaConfig);
    // Generous: bulk statements on a loaded 2-core machine can take minutes. (The client warns about long timeouts; harmless here.)
    const clickhouse = createHttpGateway({ url: engine.url, username: 'default', password: '', database: 'default', requestTimeoutMs: 300_000 });
    stops.push(() => clickhouse.close());
    await migrate(clickhouse, 1, logger);
    const redis = createRedis(config.redis);
    stops.push(async () => redis.disconnect());
    // Plain acks=all producer; no idempotence needed for generated data, and in-flight batches keep loading fast.
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    stops.push(() => producer.disconnect());
    const servicePids = () => ({ clickhouse: engine.pid, harness: process.pid, kafka: broker.pid, redis: redisServer.pid });
    return { run, dir, config, childEnv, logger, kafka, admin, producer, clickhouse, clickhouseMeter, redis, servicePids, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The engine child, ready once its metered port answers a ping: the child opens
 * the engine before the meter listens. The port is picked here and bound by the
 * child a moment later, so a port taken in between is retried on another.
 */
async function startEngine(dir: string, attempts = 3): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = spawnLogged(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/clickhouse.child.ts')], {
      logFile: join(dir, 'clickhouse.log'),
      cwd: REPO_ROOT,
      env: { ...process.env, BENCH_CLICKHOUSE_PATH: join(dir, 'clickhouse'), BENCH_CLICKHOUSE_PORT: String(port) },
    });
    if (proc.pid === undefined) throw new Error('could not start the ClickHouse engine child');
    const url = `http://127.0.0.1:${port}`;
    // Closing the engine flushes its parts; a big run's data takes a while.
    const stop = async (): Promise<void> => {
      await stopProcess(proc, 60_000);
    };
    try {
      await waitUntil(async () => (await httpGet(`${url}/ping`)).status === 200, { what: `ClickHouse engine at ${url}`, timeoutMs: 60_000, intervalMs: 100, processes: [proc] });
      return { url, pid: proc.pid, stop };
    } catch (error) {
      await stop();
      if (attempt >= attempts) throw error;
      log(`ClickHouse engine child did not come up on port ${port} (attempt ${attempt}): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
}

/** The group stands stable with exactly `members` members: every worker holds its partitions. */
export async function groupSettled(env: BenchEnvironment, groupId: string, members: number): Promise<boolean> {
  const { groups } = await env.admin.describeGroups([groupId]);
  const group = groups[0];
  return group?.state === 'Stable' && group.members.length === members;
}

/** Sum of the committed offsets of a group on a topic (what it has durably processed). */
export async function committedTotal(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (entry?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** Sum of the high watermarks of a topic: a group that committed this much has read everything produced so far. */
export async function topicTotal(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}
