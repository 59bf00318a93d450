import { spawn } from 'node:child_process';
import type { TestStack } from './stack.js';

/** Runs the rebuild CLI as a real process against a stack's stores and its ClickHouse HTTP endpoint; resolves with its exit code and output. */
export function runRebuild(stack: TestStack, clickhouseUrl: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const env = {
    KAFKA_BROKERS: stack.config.kafka.brokers!.join(','),
    KAFKA_TOPIC_NAMESPACE: stack.config.kafka.topics.sessions.slice(0, -'notai.sessions.v1'.length),
    KAFKA_GROUP_ID: stack.config.kafka.groupId,
    REDIS_URL: stack.config.redis.url,
    REDIS_KEY_PREFIX: stack.config.redis.keyPrefix,
    CLICKHOUSE_DRIVER: 'http',
    CLICKHOUSE_URL: clickhouseUrl,
    LOG_LEVEL: 'warn',
  };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/rebuild.ts', '--progress', 'log', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** system.tables has this table in the current database. */
export async function tableExists(stack: TestStack, name: string): Promise<boolean> {
  const [row] = await stack.clickhouse.query<{ n: number }>('SELECT toUInt32(count()) AS n FROM system.tables WHERE database = currentDatabase() AND name = {name:String}', { name });
  return row?.n === 1;
}
