import { z } from 'zod';
import { topicNames, type TopicSet } from '../schemas/events/topics.js';

/**
 * All configuration comes from the environment, validated once at start-up.
 * Defaults run everything on one machine. Each component receives only its slice.
 */
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));

const EnvSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REGION: z.enum(['us', 'eu']).default('us'),
  DATA_DIR: z.string().default('.data'),

  KAFKA_BROKERS: csv.optional(),
  KAFKA_CLIENT_ID: z.string().default('notai-read-model'),
  KAFKA_GROUP_ID: z.string().default('notai-projector'),
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  KAFKA_TOPIC_NAMESPACE: z.string().regex(/^[A-Za-z0-9._-]*$/).default(''),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(6),
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(5).default(1),

  CLICKHOUSE_DRIVER: z.enum(['embedded', 'http']).default('embedded'),
  CLICKHOUSE_PATH: z.string().optional(),
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('default'),
  CLICKHOUSE_CLUSTER: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
  CLICKHOUSE_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),

  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: csv.optional(),
  REDIS_KEY_PREFIX: z.string().default('ni:'),

  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  API_TRUST_PROXY: bool.default('false'),
  API_CURSOR_SECRET: z.string().min(16).default('development-cursor-secret-change-me'),
  API_DRAIN_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).max(2_000).default(1_000),
  API_PUBLIC_URLS: csv.default('http://127.0.0.1:8080'),
  RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  RATE_LIMITS: z
    .string()
    .default('free=60,starter=300,pro=1200,enterprise=6000')
    .transform((s, ctx) => {
      const limits: Record<string, number> = {};
      for (const part of s.split(',')) {
        const [tier, n] = part.split('=');
        if (!tier || !n || !/^\d+$/.test(n)) ctx.addIssue({ code: 'custom', message: `expected tier=number, got ${part}` });
        else limits[tier.trim()] = Number(n);
      }
      return limits;
    }),

  BATCH_MAX_ROWS: z.coerce.number().int().positive().default(5_000),
  BATCH_MAX_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  BATCH_MAX_WAIT_MS: z.coerce.number().int().positive().default(100),
  BATCH_IDLE_MS: z.coerce.number().int().positive().default(5),
  SINK_RETRY_MAX_MS: z.coerce.number().int().positive().default(10_000),
  PROJECTOR_MEMO_SESSIONS: z.coerce.number().int().min(0).default(5_000),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  env: string;
  logLevel: Env['LOG_LEVEL'];
  region: 'us' | 'eu';
  dataDir: string;
  kafka: {
    brokers: string[] | undefined;
    clientId: string;
    groupId: string;
    topics: TopicSet;
    /** How long a silent (crashed) member keeps its partitions before the group moves them. */
    sessionTimeoutMs: number;
    topicPartitions: number;
    replicationFactor: number;
  };
  clickhouse: {
    driver: 'embedded' | 'http';
    path: string;
    url: string;
    username: string;
    password: string;
    database: string;
    cluster: string | undefined;
    requestTimeoutMs: number;
  };
  redis: { url: string; clusterNodes: string[] | undefined; keyPrefix: string };
  api: {
    host: string;
    port: number;
    trustProxy: boolean;
    cursorSecret: string;
    /** How long a stopping API keeps serving while it reports not-ready, so balancers move away first. */
    drainMs: number;
    keyCacheMs: number;
    publicUrls: string[];
    rateLimit: { windowMs: number; limits: Record<string, number> };
  };
  projector: {
    batchMaxRows: number;
    batchMaxBytes: number;
    batchMaxWaitMs: number;
    /** A batch flushes this long after its last messages arrived (a fetch's partitions arrive together). */
    batchIdleMs: number;
    sinkRetryMaxMs: number;
    /** Sessions whose timelines a worker remembers, to skip their seen lookups (0: always look up). */
    memoSessions: number;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    region: e.REGION,
    dataDir: e.DATA_DIR,
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      groupId: e.KAFKA_GROUP_ID,
      topics: topicNames(e.KAFKA_TOPIC_NAMESPACE),
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      topicPartitions: e.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
    },
    clickhouse: {
      driver: e.CLICKHOUSE_DRIVER,
      path: e.CLICKHOUSE_PATH ?? `${e.DATA_DIR}/clickhouse`,
      url: e.CLICKHOUSE_URL,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
      cluster: e.CLICKHOUSE_CLUSTER,
      requestTimeoutMs: e.CLICKHOUSE_TIMEOUT_MS,
    },
    redis: { url: e.REDIS_URL, clusterNodes: e.REDIS_CLUSTER_NODES, keyPrefix: e.REDIS_KEY_PREFIX },
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      trustProxy: e.API_TRUST_PROXY,
      cursorSecret: e.API_CURSOR_SECRET,
      drainMs: e.API_DRAIN_MS,
      keyCacheMs: e.API_KEY_CACHE_MS,
      publicUrls: e.API_PUBLIC_URLS,
      rateLimit: { windowMs: e.RATE_LIMIT_WINDOW_MS, limits: e.RATE_LIMITS },
    },
    projector: {
      batchMaxRows: e.BATCH_MAX_ROWS,
      batchMaxBytes: e.BATCH_MAX_BYTES,
      batchMaxWaitMs: e.BATCH_MAX_WAIT_MS,
      batchIdleMs: e.BATCH_IDLE_MS,
      sinkRetryMaxMs: e.SINK_RETRY_MAX_MS,
      memoSessions: e.PROJECTOR_MEMO_SESSIONS,
    },
  };
}
