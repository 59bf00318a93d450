import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BATCH_STAGES, type BatchStage } from '../../projections/runtime/messages.js';
import { freePort } from '../../provision/free-port.js';
import { assertAlive, REPO_ROOT, spawnChild, waitHttpReady, type Child } from '../children.js';
import { addFigure, type BenchContext } from '../context.js';
import { describeCpu, measureCpu, type CpuShare } from '../cpu.js';
import { INGEST_INTEGRATIONS, preloadTraffic } from '../dataset.js';
import { committedTotal, topicTotal } from '../environment.js';
import { task } from '../progress.js';
import type { ConsumerWork, WorkOutcomes } from '../raw-kafka.js';
import { round } from '../results.js';
import { readMetrics, sleep } from '../stats.js';

export interface Consumption {
  eventsPerSecond: number;
  /** Wall time spent waiting on ClickHouse statements (summed over requests) per second of the run. */
  clickhouseBusy: number;
  clickhouse: Awaited<ReturnType<BenchContext['env']['clickhouseMeter']['take']>>;
  /** From spawn to the last offset committed (includes process start and group join). */
  wallSeconds: number;
  cpu: Record<string, { cpuSeconds: number; coresBusy: number }>;
  /** Microseconds of CPU per event, by process, over the span the throughput is measured on. */
  cpuPerEvent: Record<string, number>;
}

const POLL_MS = 50;

/**
 * Throughput of a consumer group over a topic, observed from outside by its
 * committed offsets, the same way for the projector and the raw consumer:
 * (last committed − first committed seen) / (time between those two
 * observations). Process start and group join are left out for both; each
 * end is seen within one poll (50 ms).
 */
export async function measureConsumption(ctx: BenchContext, child: Child, groupId: string, label: string): Promise<Consumption> {
  const { env } = ctx;
  const topic = env.config.kafka.topics.sessions;
  const total = await topicTotal(env.admin, topic);
  const spawnedAt = performance.now();
  const cpu = await measureCpu({ [child.name]: child.pid, ...env.servicePids() });
  await env.clickhouseMeter.take();
  const progress = task(label, total, 'events');
  let first: { at: number; committed: number } | null = null;
  // CPU over the same span as the throughput: start-up and group join would otherwise weigh on a short run.
  let spanCpu: (() => Promise<CpuShare>) | null = null;
  // A reading the broker refused (a coordinator loading) shows the last one, not zero and a negative rate.
  let lastCommitted = 0;
  const deadline = Date.now() + 120_000 + total * 2;
  for (;;) {
    // Read before the liveness check: a tool that exits once it has caught up (services/rebuild.ts) is done, not dead.
    const exitedBefore = child.proc.exitInfo() !== undefined;
    const committed = await committedTotal(env.admin, groupId, topic).catch(() => lastCommitted);
    lastCommitted = committed;
    const at = performance.now();
    if (committed > 0 && first === null) {
      first = { at, committed };
      spanCpu = await measureCpu({ [child.name]: child.pid, ...env.servicePids() });
    }
    progress.update(committed, first ? `${Math.round((committed - first.committed) / Math.max(0.001, (at - first.at) / 1000)).toLocaleString('en-US')} events/s` : 'joining');
    if (committed >= total) {
      // A run short enough to be done by its first reading is measured from the spawn, its CPU too.
      const span =
        first !== null && first.committed < total
          ? { events: committed - first.committed, seconds: (at - first.at) / 1000, cpu: spanCpu }
          : { events: committed, seconds: (at - spawnedAt) / 1000, cpu: null };
      const eventsPerSecond = span.events / span.seconds;
      const share = await cpu();
      const overSpan = span.cpu ? await span.cpu() : share;
      const cpuPerEvent = Object.fromEntries(Object.entries(overSpan).map(([role, s]) => [role, round((s.cpuSeconds / span.events) * 1e6, 1)]));
      const clickhouse = await env.clickhouseMeter.take();
      const wallSeconds = (at - spawnedAt) / 1000;
      const clickhouseBusy = round(Object.values(clickhouse).reduce((a, t) => a + t.totalMs, 0) / 1000 / wallSeconds, 2);
      progress.done(`${Math.round(eventsPerSecond).toLocaleString('en-US')} events/s; cores busy: ${describeCpu(share)}; ClickHouse busy ${clickhouseBusy}`);
      return { eventsPerSecond, wallSeconds: round(wallSeconds, 1), cpu: share, cpuPerEvent, clickhouseBusy, clickhouse };
    }
    if (exitedBefore) await assertAlive(child);
    if (Date.now() > deadline) throw new Error(`${label}: ${committed}/${total} after ${Math.round((performance.now() - spawnedAt) / 1000)} s:\n${await child.logTail()}`);
    await sleep(POLL_MS);
  }
}

export interface ProjectorStats {
  batches: number;
  messages: number;
  batchSeconds: number;
  /** Seconds spent in each step of the batches so far (projector_batch_stage_seconds). */
  stageSeconds: Record<BatchStage, number>;
  /** Seconds the process spent in garbage collection so far, all kinds, and in major (mark-compact) ones. */
  gcSeconds: number;
  majorGcSeconds: number;
  /** V8 heap and off-heap (Buffers) sizes, MB: where the resident memory goes. */
  heapTotalMb: number;
  heapUsedMb: number;
  externalMb: number;
}

/** Cumulative batch counters and memory gauges from the projector's /metrics (prom-client's names). */
export async function projectorStats(metricsUrl: string): Promise<ProjectorStats> {
  const metrics = await readMetrics(metricsUrl);
  const sum = (name: string): number => metrics.sum(name) ?? 0;
  const mb = (name: string): number => round(sum(name) / 1024 ** 2, 0);
  return {
    batches: sum('projector_batch_messages_count'),
    messages: sum('projector_batch_messages_sum'),
    batchSeconds: sum('projector_batch_duration_seconds_sum'),
    stageSeconds: Object.fromEntries(BATCH_STAGES.map((stage) => [stage, metrics.sum('projector_batch_stage_seconds_sum', `stage="${stage}"`) ?? 0])) as Record<BatchStage, number>,
    gcSeconds: sum('nodejs_gc_duration_seconds_sum'),
    majorGcSeconds: metrics.sum('nodejs_gc_duration_seconds_sum', 'kind="major"') ?? 0,
    heapTotalMb: mb('nodejs_heap_size_total_bytes'),
    heapUsedMb: mb('nodejs_heap_size_used_bytes'),
    externalMb: mb('nodejs_external_memory_bytes'),
  };
}

export interface BatchesBetween {
  batches: number;
  meanBatchMessages: number;
  meanBatchMs: number;
  /** Mean milliseconds per batch in each step. */
  meanStageMs: Record<BatchStage, number>;
  /** Garbage collection between the readings, in ms per batch: all kinds, and major. */
  meanGcMs: number;
  meanMajorGcMs: number;
}

/** Mean batch size, flush time and per-step time between two readings. */
export function batchesBetween(before: ProjectorStats | null, after: ProjectorStats): BatchesBetween {
  const batches = after.batches - (before?.batches ?? 0);
  const perBatchMs = (seconds: number): number => round((seconds / Math.max(1, batches)) * 1000, 1);
  return {
    batches,
    meanBatchMessages: round((after.messages - (before?.messages ?? 0)) / Math.max(1, batches), 0),
    meanBatchMs: perBatchMs(after.batchSeconds - (before?.batchSeconds ?? 0)),
    meanStageMs: Object.fromEntries(BATCH_STAGES.map((stage) => [stage, perBatchMs(after.stageSeconds[stage] - (before?.stageSeconds[stage] ?? 0))])) as Record<BatchStage, number>,
    meanGcMs: perBatchMs(after.gcSeconds - (before?.gcSeconds ?? 0)),
    meanMajorGcMs: perBatchMs(after.majorGcSeconds - (before?.majorGcSeconds ?? 0)),
  };
}

/** `decode 12.1, read 40.3, …; GC 30.2 (major 4.1)` ms per batch: the steps that took any time, and the collector's share. */
export const describeStages = (batches: BatchesBetween): string =>
  BATCH_STAGES.filter((stage) => batches.meanStageMs[stage] > 0)
    .map((stage) => `${stage} ${batches.meanStageMs[stage]}`)
    .join(', ') + `; GC ${batches.meanGcMs} (major ${batches.meanMajorGcMs})`;

/**
 * One pass of the baseline consumer child over the preloaded topic, in a group
 * of its own, doing `work` on every message (bench/raw-consumer.child.ts).
 * With work to do, the pass fails unless the child found all of the topic's
 * `events` messages valid, as the generator made them.
 */
async function consumerPass(ctx: BenchContext, role: string, label: string, work: ConsumerWork, events: number): Promise<Consumption & { outcomes?: WorkOutcomes }> {
  const group = `${role}-${ctx.env.run}`;
  const outcomesFile = join(ctx.env.dir, `${role}.outcomes.json`);
  const extraEnv = { BENCH_GROUP_ID: group, BENCH_CONSUMER_WORK: work, ...(work !== 'none' && { BENCH_WORK_OUTCOMES: outcomesFile }) };
  const child = spawnChild(ctx.env, role, join(REPO_ROOT, 'bench/raw-consumer.child.ts'), extraEnv, { profileDir: ctx.profileDir, environmentOf: 'projector' });
  ctx.memory.watch(role, child);
  const result = await measureConsumption(ctx, child, group, label);
  await ctx.memory.release(role);
  await child.stop();
  if (work === 'none') return result;
  const outcomes = JSON.parse(await readFile(outcomesFile, 'utf8')) as WorkOutcomes;
  // A consumer that refused what the projector takes (a clock or key mistake) would be fast and prove nothing.
  if (outcomes.valid !== events || outcomes.refused !== 0) {
    throw new Error(`${label} found ${outcomes.valid} valid and ${outcomes.refused} refused of ${events} messages:\n${await child.logTail()}`);
  }
  return { ...result, outcomes };
}

/**
 * Preloads the topic and measures three baseline consumers over it (reading
 * only, then JSON.parse of every message, then decodeEvent of every message as
 * the projector judges its input), then the real projector
 * (services/projector.ts) over the same events.
 */
export async function runIngest(ctx: BenchContext): Promise<void> {
  const { env, options } = ctx;
  const preloaded = (ctx.preloaded = await preloadTraffic(env, { seed: options.seed, integrationIds: INGEST_INTEGRATIONS, events: options.sizes.ingestEvents, keepSessionIds: 20_000 }));

  const rawResult = await consumerPass(ctx, 'raw-consumer', 'raw kafkajs consumer', 'none', preloaded.events);
  const parsingResult = await consumerPass(ctx, 'parsing-consumer', 'parsing consumer', 'parse', preloaded.events);
  const decodingResult = await consumerPass(ctx, 'decoding-consumer', 'decoding consumer', 'decode', preloaded.events);

  const metricsPort = await freePort();
  const projector = spawnChild(env, 'projector', join(REPO_ROOT, 'services/projector.ts'), { PROJECTOR_METRICS_PORT: String(metricsPort) }, { profileDir: ctx.profileDir, service: 'projector' });
  ctx.projector = projector;
  ctx.projectorMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  ctx.memory.watch('projector', projector);
  const result = await measureConsumption(ctx, projector, env.config.kafka.groupId, 'projector ingest');
  ctx.projectorEventsPerSecond = result.eventsPerSecond;
  const stats = await projectorStats(ctx.projectorMetricsUrl);
  const batches = batchesBetween(null, stats);
  await waitHttpReady(projector, `http://127.0.0.1:${metricsPort}/readyz`);

  ctx.method.ingest =
    `${preloaded.events} simulator events preloaded into ${env.config.kafka.topicPartitions} partitions; services/projector.ts as a child process ` +
    '(CLICKHOUSE_DRIVER=http to the embedded engine served by the harness) vs a kafkajs consumer child that only reads and commits per batch with the same fetch settings. ' +
    'Two more children are that consumer doing only what any projector must: JSON.parse of every message (the parsing consumer), and decodeEvent of every message ' +
    'with its key, exactly as the projector judges its input (the decoding consumer); neither writes anything. ' +
    'All measured from outside by committed offsets (first to last commit; start-up and group join excluded).';
  ctx.details.ingest = { events: preloaded.events, producedPerSecond: round(preloaded.events / (preloaded.ms / 1000), 0), raw: rawResult, parsing: parsingResult, decoding: decodingResult, projector: { ...result, ...batches, heap: { totalMb: stats.heapTotalMb, usedMb: stats.heapUsedMb, externalMb: stats.externalMb } } };
  addFigure(ctx, {
    bench: 'ingest',
    metric: 'projector throughput',
    unit: 'events/s',
    value: round(result.eventsPerSecond, 0),
    baseline: { label: 'raw kafkajs consumer', value: round(rawResult.eventsPerSecond, 0) },
    target: { on: 'ratio', op: '>=', limit: 0.6 },
    note: `cores busy: ${describeCpu(result.cpu)}; mean batch ${batches.meanBatchMessages} msgs in ${batches.meanBatchMs} ms (${describeStages(batches)}); ClickHouse statements in flight ${result.clickhouseBusy} of the time`,
  });
  // Work no projector of JSON events can skip, and then all the judging this one must do: each bounds the projector's ratio from above.
  for (const [result, role, metric, what] of [
    [parsingResult, 'parsing-consumer', 'parsing consumer throughput', 'JSON.parse of every message'],
    [decodingResult, 'decoding-consumer', 'decoding consumer throughput', 'decodeEvent of every message with its key, as the projector judges its input'],
  ] as const) {
    addFigure(ctx, {
      bench: 'ingest',
      metric,
      unit: 'events/s',
      value: round(result.eventsPerSecond, 0),
      baseline: { label: 'raw kafkajs consumer', value: round(rawResult.eventsPerSecond, 0) },
      note: `the raw consumer doing ${what}, writing nothing: ${result.cpuPerEvent[role] ?? '?'} µs of CPU per event; cores busy: ${describeCpu(result.cpu)}`,
    });
  }
  // Less swayed than throughput by whatever else the machine runs: ±8% against ±11.5% over four full-size runs of one code.
  addFigure(ctx, {
    bench: 'ingest',
    metric: 'projector CPU per event',
    unit: 'µs',
    value: result.cpuPerEvent.projector ?? Number.NaN,
    baseline: { label: 'raw kafkajs consumer', value: rawResult.cpuPerEvent['raw-consumer'] ?? Number.NaN },
    note: `the engine's CPU besides: ${result.cpuPerEvent.clickhouse ?? '?'} µs per event; over the span the throughput is measured on`,
  });
}
