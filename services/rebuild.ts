import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { Admin } from 'kafkajs';
import { PROJECTIONS, isProjectionName, type ProjectionName } from '../projections/store/generations.js';
import { routingKeys } from '../projections/store/redis-keys.js';
import { tableNames } from '../projections/store/table-set.js';
import { dropStatements, migrate, schemaMismatches } from './clickhouse/migrations.js';
import { loadConfig } from './config.js';
import { askAgainWhileRetriable } from './kafka.js';
import { createLogger } from './logger.js';
import { createProjectorWorker, topicsFor, type ProjectorWorker } from './projector-worker.js';
import { readRouting } from './read-model.js';
import { planRebuild, rebuildGroupId, type RebuildPlan } from './rebuild-plan.js';
import { createRuntime } from './runtime.js';

const USAGE = `usage: npm run rebuild -- [--projection ${PROJECTIONS.join('|')}[,...]] [--generation N] [--no-switch] [--progress bar|log]
Replays the topics from the earliest offsets into a new generation of the selected projections
(default: all) while the serving ones keep answering, then hands them over: the live projector
workers stand still for a moment, the rebuild catches up to exactly where they stopped, the
selected projections switch, and the workers resume. Projections not selected are untouched.`;

/**
 * Rounds of catching up before the handoff: each replays up to where the live
 * group stood when it began; once a round is short, the live group is asked
 * to stand still for the last one.
 */
const SHORT_ROUND_MS = 5_000;
const MAX_ROUNDS = 8;
const LEASE_MS = 30_000;
const STAND_STILL_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    projection: { type: 'string', default: 'all' },
    generation: { type: 'string' },
    'no-switch': { type: 'boolean', default: false },
    progress: { type: 'string', default: process.stderr.isTTY ? 'bar' : 'log' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const requested = values.projection === 'all' ? [...PROJECTIONS] : values.projection.split(',').map((s) => s.trim());
const unknown = requested.filter((p) => !isProjectionName(p));
if (unknown.length > 0 || requested.length === 0) {
  console.error(`unknown projection(s): ${unknown.join(', ')}\n${USAGE}`);
  process.exit(2);
}
const selected = requested as ProjectionName[];

const config = loadConfig();
const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, name: 'notai-rebuild' });
const runtime = createRuntime(config, logger, 'rebuild');
await runtime.infrastructure.start();
const routing = await readRouting(runtime.redis, config.redis.keyPrefix);
if (routing.handoff !== null) fail(`another rebuild (${routing.handoff}) is handing off right now; try again when it is done`);
let plan: RebuildPlan;
try {
  plan = planRebuild(routing.generations, selected, config.redis.keyPrefix, values.generation === undefined ? undefined : Number(values.generation));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
// The tables this rebuild keeps serving must already have this version's shape: finding out at the handoff, after the replay, would waste it.
const kept = new Set(PROJECTIONS.filter((p) => !plan.selected.includes(p)));
const [keptMismatch] = await schemaMismatches(runtime.clickhouse, tableNames(plan.adopted), { cluster: config.clickhouse.cluster, only: kept });
if (keptMismatch) fail(`${keptMismatch.message} This rebuild keeps that table serving; select ${keptMismatch.projection} too.`);
const leaseKey = routingKeys(config.redis.keyPrefix).handoff;
const rebuildId = randomUUID();
const liveGroup = config.kafka.groupId;
const rebuildGroup = rebuildGroupId(config.kafka.groupId);
const topics = topicsFor(config, plan.writes);
console.error(
  `rebuilding ${plan.selected.join(', ')} into generation ${plan.target}` +
    (plan.writes.size > plan.selected.length ? ` (with scratch ${[...plan.writes].filter((p) => !plan.selected.includes(p)).join(', ')} to compute them)` : '') +
    `; serving now: ${JSON.stringify(routing.generations)}`,
);

// A rebuild starts from nothing: what an earlier attempt at this generation left is dropped.
for (const { generations, tables } of plan.startOver) {
  for (const statement of dropStatements(generations, { cluster: config.clickhouse.cluster, tables })) await runtime.clickhouse.command(statement);
}
for (const pattern of plan.targetKeys) await deleteKeys(pattern);
const admin = runtime.kafka.admin();
await admin.connect();
await admin.deleteGroups([rebuildGroup]).catch(() => undefined);

let leaseTimer: NodeJS.Timeout | null = null;
let activeWorker: ProjectorWorker | null = null;
process.once('SIGINT', () => void abort('interrupted'));
process.once('SIGTERM', () => void abort('terminated'));

const started = Date.now();
let previousTotal = 0;
for (let round = 1; ; round++) {
  const ceiling = await committedOffsets(admin, liveGroup);
  const roundStarted = Date.now();
  await catchUpTo(ceiling, round === 1 ? 'replay' : `catch-up ${round}`);
  const roundMs = Date.now() - roundStarted;
  if (values['no-switch']) {
    console.error(`generation ${plan.target} built to the live group's offsets; not switched (--no-switch): it does not follow new events`);
    await finish(0);
  }
  if (roundMs < SHORT_ROUND_MS || round >= MAX_ROUNDS) break;
}

// Handoff: the live workers stand still, the rebuild catches up to exactly their offsets, the pointers move.
const leaseTaken = await runtime.redis.set(leaseKey, rebuildId, 'PX', LEASE_MS, 'NX');
if (leaseTaken !== 'OK') fail('another rebuild holds the handoff lease');
leaseTimer = setInterval(() => void renewLease(), LEASE_MS / 6);
const stillSince = Date.now();
await liveGroupStandsStill();
const final = await committedOffsets(admin, liveGroup);
await catchUpTo(final, 'handoff');
// Views that join a replaced generation to a kept one are made while nothing writes.
await migrate(runtime.clickhouse, plan.adopted, logger, { cluster: config.clickhouse.cluster });
const switched = await runtime.redis.eval(
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
   redis.call('HSET', KEYS[2], unpack(ARGV, 2))
   redis.call('DEL', KEYS[1])
   return 1`,
  2,
  leaseKey,
  routingKeys(config.redis.keyPrefix).generations,
  rebuildId,
  ...Object.entries(plan.adopted).flatMap(([p, g]) => [p, String(g)]),
);
if (leaseTimer) clearInterval(leaseTimer);
if (switched !== 1) fail(`the handoff lease expired before the switch (the rebuild stalled over ${LEASE_MS / 1000} s); live workers resumed on the old generations and nothing switched. Run it again.`);
console.error(
  `switched ${plan.selected.join(', ')} to generation ${plan.target} after ${((Date.now() - stillSince) / 1000).toFixed(1)} s standing still; ` +
    `the rebuild took ${((Date.now() - started) / 1000).toFixed(1)} s. Serving: ${JSON.stringify(plan.adopted)}. Replaced generations stay until dropped.`,
);

// Clean-up after the switch: nothing served depends on these.
for (const { generations, tables } of [plan.retiredViews, plan.scratchTables]) {
  for (const statement of dropStatements(generations, { cluster: config.clickhouse.cluster, tables })) await runtime.clickhouse.command(statement);
}
for (const pattern of plan.scratchKeys) await deleteKeys(pattern);
await admin.deleteGroups([rebuildGroup]).catch(() => undefined);
await finish(0);

/** Runs a rebuild worker until its group has committed `ceiling` on every partition, with progress. */
async function catchUpTo(ceiling: Map<string, bigint>, label: string): Promise<void> {
  const ranges = await topicRanges(admin);
  const stopAt = new Map([...ranges].map(([tp, range]) => [tp, ceiling.get(tp) ?? range.low]));
  const total = [...stopAt].reduce((sum, [tp, end]) => sum + Number(end - ranges.get(tp)!.low), 0);
  const worker = createProjectorWorker(config, { ...runtime, now: Date.now }, { generations: plan.building, writes: plan.writes, groupId: rebuildGroup, fromBeginning: true, stopAt });
  activeWorker = worker;
  await worker.start();
  const roundStart = Date.now();
  const bar =
    values.progress === 'bar'
      ? new cliProgress.SingleBar({ format: `${label} |{bar}| {value}/{total} messages | {rate}/s | ETA {eta_formatted}` }, cliProgress.Presets.shades_classic)
      : null;
  const before = await doneOf(stopAt, ranges);
  bar?.start(total, before, { rate: 0 });
  let lastLog = 0;
  for (;;) {
    const done = await doneOf(stopAt, ranges);
    const rate = Math.round((done - before) / Math.max(0.001, (Date.now() - roundStart) / 1000));
    bar?.update(done, { rate });
    if (!bar && (Date.now() - lastLog > 2_000 || done >= total)) {
      lastLog = Date.now();
      const eta = rate > 0 ? Math.round((total - done) / rate) : '?';
      console.error(`${label}: ${done}/${total} messages, ${rate}/s, ETA ${eta} s`);
    }
    if (done >= total) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  bar?.stop();
  await worker.stop();
  activeWorker = null;
  const seconds = (Date.now() - roundStart) / 1000;
  console.error(`${label}: caught up with ${total - previousTotal} new messages in ${seconds.toFixed(1)} s (${total} in all)`);
  previousTotal = total;
}

async function doneOf(stopAt: Map<string, bigint>, ranges: Map<string, { low: bigint }>): Promise<number> {
  const committed = await committedOffsets(admin, rebuildGroup);
  let done = 0;
  for (const [tp, end] of stopAt) {
    const low = ranges.get(tp)!.low;
    const at = committed.get(tp) ?? low;
    done += Number((at < end ? at : end) - low);
  }
  return done;
}

async function topicRanges(kafkaAdmin: Admin): Promise<Map<string, { low: bigint; high: bigint }>> {
  const out = new Map<string, { low: bigint; high: bigint }>();
  for (const topic of topics) for (const p of await kafkaAdmin.fetchTopicOffsets(topic)) out.set(`${topic}:${p.partition}`, { low: BigInt(p.low), high: BigInt(p.high) });
  return out;
}

/**
 * A group's committed offsets on the rebuild's topics; partitions it never committed are absent. Of the admin
 * reads here, only fetchOffsets goes to the broker without kafkajs' own retries, so only it is asked again.
 */
async function committedOffsets(kafkaAdmin: Admin, group: string): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  const committed = await askAgainWhileRetriable(() => kafkaAdmin.fetchOffsets({ groupId: group, topics }), { what: `committed offsets of ${group}`, logger });
  for (const { topic, partitions } of committed) {
    for (const p of partitions) if (Number(p.offset) >= 0) out.set(`${topic}:${p.partition}`, BigInt(p.offset));
  }
  return out;
}

/** The live workers see the lease within their poll interval, finish their batch, commit and leave: the group empties. */
async function liveGroupStandsStill(): Promise<void> {
  const deadline = Date.now() + STAND_STILL_TIMEOUT_MS;
  for (;;) {
    const { groups } = await admin.describeGroups([liveGroup]);
    const group = groups[0];
    if (!group || group.members.length === 0) return;
    if (Date.now() > deadline) await abort(`the live group still has ${group.members.length} member(s) after ${STAND_STILL_TIMEOUT_MS / 1000} s; are they older versions that do not follow the handoff lease?`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function renewLease(): Promise<void> {
  await runtime.redis
    .eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`, 1, leaseKey, rebuildId, LEASE_MS)
    .catch((err: unknown) => logger.warn({ err }, 'could not renew the handoff lease'));
}

async function releaseLease(): Promise<void> {
  if (leaseTimer) clearInterval(leaseTimer);
  await runtime.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, leaseKey, rebuildId);
}

async function deleteKeys(pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await runtime.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await Promise.all(keys.map((k) => runtime.redis.del(k)));
  } while (cursor !== '0');
}

async function abort(reason: string): Promise<never> {
  console.error(`rebuild stopped: ${reason}; nothing switched, live workers resume on the serving generations`);
  await activeWorker?.stop().catch(() => undefined);
  await releaseLease().catch(() => undefined);
  return finish(1);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

async function finish(code: number): Promise<never> {
  await admin.disconnect().catch(() => undefined);
  await runtime.infrastructure.stop();
  await runtime.clients.stop();
  process.exit(code);
}
