import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { Admin } from 'kafkajs';
import { servingGenerationKey } from '../projections/store/redis-keys.js';
import { tableNames } from '../projections/store/table-set.js';
import { dropStatements } from './clickhouse/migrations.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createProjectorWorker, generationGroupId } from './projector-worker.js';
import { readServingGeneration } from './read-model.js';
import { createRuntime } from './runtime.js';

/**
 * Rebuilds every projection from the earliest offsets into a new generation
 * (fresh tables, fresh Redis keys) while the current one keeps serving, shows
 * progress, and switches reads when the new generation has caught up.
 *   tsx services/rebuild.ts [--generation N] [--no-switch]
 * Running projector processes follow the switch by themselves.
 */
const { values } = parseArgs({
  options: {
    generation: { type: 'string' },
    'no-switch': { type: 'boolean', default: false },
    progress: { type: 'string', default: process.stderr.isTTY ? 'bar' : 'log' },
  },
  strict: true,
});

const config = loadConfig();
const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, name: 'notai-rebuild' });
const runtime = createRuntime(config, logger, 'rebuild');
await runtime.infrastructure.start();
const serving = await readServingGeneration(runtime.redis, config.redis.keyPrefix);
const target = values.generation ? Number(values.generation) : serving + 1;
if (!Number.isInteger(target) || target <= serving) {
  console.error(`generation must be an integer above the serving generation ${serving}`);
  process.exit(2);
}

// A rebuild starts from nothing: earlier attempts at this generation are dropped.
for (const statement of dropStatements(tableNames(target), { cluster: config.clickhouse.cluster })) await runtime.clickhouse.command(statement);
await deleteKeys(`${config.redis.keyPrefix}g${target}:*`);

const topics = [config.kafka.topics.sessions, config.kafka.topics.integrations];
const groupId = generationGroupId(config.kafka.groupId, target);
const admin = runtime.kafka.admin();
await admin.connect();
await admin.deleteGroups([groupId]).catch(() => undefined);
const goal = await endOffsets(admin, topics);
const total = [...goal.values()].reduce((sum, p) => sum + (p.end - p.start), 0);
console.error(`rebuilding generation ${target} (serving: ${serving}) from ${total} messages on ${topics.join(', ')}`);

const worker = createProjectorWorker(config, { ...runtime, now: Date.now }, { generation: target, fromBeginning: true });
await worker.start();

const started = Date.now();
const bar = values.progress === 'bar' ? new cliProgress.SingleBar({ format: 'rebuild |{bar}| {value}/{total} messages | {rate}/s | ETA {eta_formatted}' }, cliProgress.Presets.shades_classic) : null;
bar?.start(total, 0, { rate: 0 });
let lastLog = 0;
for (;;) {
  const done = await committedProgress(admin, groupId, topics, goal);
  const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000));
  bar?.update(done, { rate });
  if (!bar && Date.now() - lastLog > 2_000) {
    lastLog = Date.now();
    const eta = rate > 0 ? Math.round((total - done) / rate) : '?';
    console.error(`rebuild: ${done}/${total} messages, ${rate}/s, ETA ${eta} s`);
  }
  if (done >= total) break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}
bar?.stop();
const seconds = (Date.now() - started) / 1000;
console.error(`generation ${target} caught up: ${total} messages in ${seconds.toFixed(1)} s (${Math.round(total / Math.max(seconds, 0.001))}/s)`);

if (!values['no-switch']) {
  await runtime.redis.set(servingGenerationKey(config.redis.keyPrefix), String(target));
  console.error(`reads switched to generation ${target}; projectors follow within seconds. Generation ${serving} stays until dropped.`);
}
await worker.stop();
await admin.disconnect();
await runtime.infrastructure.stop();
await runtime.clients.stop();

async function endOffsets(kafkaAdmin: Admin, names: string[]) {
  const out = new Map<string, { start: number; end: number }>();
  for (const topic of names) {
    for (const p of await kafkaAdmin.fetchTopicOffsets(topic)) out.set(`${topic}:${p.partition}`, { start: Number(p.low), end: Number(p.high) });
  }
  return out;
}

/** Messages the rebuild group has committed, counted against the snapshot taken at start. */
async function committedProgress(kafkaAdmin: Admin, group: string, names: string[], snapshot: Map<string, { start: number; end: number }>) {
  let done = 0;
  for (const { topic, partitions } of await kafkaAdmin.fetchOffsets({ groupId: group, topics: names })) {
    for (const p of partitions) {
      const range = snapshot.get(`${topic}:${p.partition}`);
      if (!range) continue;
      const committed = Number(p.offset);
      done += committed < 0 ? 0 : Math.min(range.end, committed) - range.start;
    }
  }
  return Math.max(0, done);
}

async function deleteKeys(pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await runtime.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await Promise.all(keys.map((k) => runtime.redis.del(k)));
  } while (cursor !== '0');
}
