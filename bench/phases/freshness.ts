import type { Consumer, Message } from 'kafkajs';
import { createTrafficGenerator, MEAN_EVENTS_PER_SESSION } from '../../services/simulator/traffic.js';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { freePort } from '../../provision/free-port.js';
import { assertAlive, REPO_ROOT, spawnChild, type Child } from '../children.js';
import type { StatementTotals } from '../clickhouse-meter.js';
import { addFigure, authHeaders, type BenchContext } from '../context.js';
import { describeCpu, measureCpu, measureMachine, type CpuShare } from '../cpu.js';
import { BIG_INTEGRATION, nextMessage, sessionsPerSecondFor } from '../dataset.js';
import { committedTotal, groupSettled, topicTotal } from '../environment.js';
import { log, task } from '../progress.js';
import { startRawConsumer } from '../raw-kafka.js';
import { round } from '../results.js';
import { httpGet, sleep, summarize, type Summary } from '../stats.js';
import { batchesBetween, describeStages, projectorStats } from './ingest.js';

/** 20 batches a second: smooth enough that the rate is sustained, not bursty. */
const TICK_MS = 50;
/**
 * Probes per second. Most are updates to sessions already visible (the
 * common case: 22 of a session's 23 events are updates), whose polls are
 * answered from Redis. A few are new sessions: every poll before one appears
 * misses Redis and falls through to a ClickHouse lookup, so many of those
 * would load the engine the projector writes to and measure the poller.
 */
const UPDATE_PROBES_PER_SECOND = 5;
const NEW_PROBES_PER_SECOND = 0.5;
/** An update is probed only once its session's first event is this old, so the session is already visible. */
const SETTLED_MS = 2_000;
/** Sessions stay open this long in publish time, so they have events to probe once settled. */
const SESSION_SPAN_S = 6;
const POLL_MS = 20;
/** New-session probes poll more gently: each 404 costs the engine a `SELECT … FROM sessions FINAL` lookup. */
const NEW_POLL_MS = 100;
const PROBE_TIMEOUT_MS = 30_000;
/** How often the harness samples its own event loop's lateness during a pass. */
const LOOP_SAMPLE_MS = 10;

interface Probe {
  kind: 'new' | 'update';
  sessionId: string;
  eventId: string;
  /** The probed event's occurredAt (ms): an update is visible once the session's updatedAt reaches it. */
  occurredAtMs: number;
  sentAt: number;
  /** When a plain kafkajs consumer first saw the probed message (the transport floor). */
  consumedAt?: number;
  /** When GET /v1/sessions/{id} first showed the event. */
  visibleAt?: number;
  polls: number;
  /** Set once its poll has stopped (seen, or timed out). */
  pollEnded?: boolean;
}

interface KindStats {
  probes: number;
  missing: number;
  pollsPerProbe: number;
  api: Summary;
  raw: Summary;
  /**
   * Each probe as [seconds into the pass when sent, ms until the API showed it]: whether a tail is one
   * episode or spread over the pass.
   */
  series: [number, number][];
}

interface Pass {
  rate: number;
  achieved: number;
  updates: KindStats;
  newSessions: KindStats;
  projectorBatches: ReturnType<typeof batchesBetween> | null;
  cpu: CpuShare;
  /** Cores busy on the whole machine during the pass, whoever used them: near the core count it was saturated. */
  machineCoresBusy: number | null;
  /**
   * How late the harness's own event loop ran during the pass (ms). Every probe is stamped on it when
   * sent and when seen, and the raw consumer reads on it: its lag is in every latency of the pass.
   */
  harnessLoopDelay: { p50: number; p99: number; max: number };
  /**
   * The statements the engine served during the pass, by kind (the projectors', the API's, the probes'
   * lookups): the engine runs one at a time, so a slow one delays every write queued behind it.
   */
  clickhouse: Record<string, StatementTotals>;
}

/** Probes of the open pass by session id; the raw consumer marks them as it reads. */
const open = new Map<string, Probe>();

/**
 * A probe leaves `open` once its poll has stopped and the raw consumer has
 * seen its message. The raw consumer runs in the harness and can fall behind
 * the API: a probe removed when the API showed it could no longer be marked,
 * and counted at the 30 s cap in the baseline (a raw p99 of 30,000 ms).
 */
function release(probe: Probe): void {
  if (probe.pollEnded && probe.consumedAt !== undefined && open.get(probe.sessionId) === probe) open.delete(probe.sessionId);
}

/**
 * A probe not seen within PROBE_TIMEOUT_MS counts as PROBE_TIMEOUT_MS: leaving it
 * out made an overloaded pass look fresher than it was (its slowest probes
 * vanished from the percentiles). With any such probe a percentile is a lower bound.
 */
const latency = (from: number, seenAt: number | undefined): number => (seenAt === undefined ? PROBE_TIMEOUT_MS : Math.min(seenAt - from, PROBE_TIMEOUT_MS));

function stats(all: readonly Probe[], kind: Probe['kind'], passStart: number): KindStats {
  const probes = all.filter((p) => p.kind === kind);
  return {
    series: probes.map((p) => [round((p.sentAt - passStart) / 1000, 2), round(latency(p.sentAt, p.visibleAt), 0)]),
    probes: probes.length,
    missing: probes.filter((p) => p.visibleAt === undefined).length,
    pollsPerProbe: round(probes.reduce((a, p) => a + p.polls, 0) / Math.max(1, probes.length), 1),
    api: summarize(probes.map((p) => latency(p.sentAt, p.visibleAt))),
    raw: summarize(probes.map((p) => latency(p.sentAt, p.consumedAt))),
  };
}

/** A message of a pass, generated ahead, with what the probe sampler needs of its event. */
interface PlannedMessage {
  /** The session id: messages are keyed by it. */
  key: string;
  value: Buffer;
  eventId: string;
  startsSession: boolean;
  occurredAtMs: number;
}

/**
 * A pass's messages packed into one buffer outside the JS heap, read back one
 * at a time as they are sent. Held as 300,000 objects and strings, a pass's
 * traffic put some 400 MB on the harness's heap, and its major collections
 * stopped the harness's event loop for up to half a second: a probe answered
 * then was stamped that much late, and the raw consumer read that much late.
 */
class PlannedTraffic {
  constructor(
    private readonly bytes: Buffer,
    /** Per message: where its value, key and event id start in `bytes`, then where the next message starts. */
    private readonly bounds: Float64Array,
    private readonly startsSession: Uint8Array,
    private readonly occurredAtMs: Float64Array,
  ) {}

  message(i: number): PlannedMessage {
    const [value, key, eventId, end] = [this.bounds[3 * i]!, this.bounds[3 * i + 1]!, this.bounds[3 * i + 2]!, this.bounds[3 * i + 3]!];
    return {
      value: this.bytes.subarray(value, key),
      key: this.bytes.toString('utf8', key, eventId),
      eventId: this.bytes.toString('utf8', eventId, end),
      startsSession: this.startsSession[i] === 1,
      occurredAtMs: this.occurredAtMs[i]!,
    };
  }
}

/**
 * A pass's traffic, generated before its clock starts. The simulator costs
 * about 45 µs of CPU per message: at 5,000 events/s that is a quarter of a
 * core which, generated on the fly, the load generator took from the system
 * it measures (on two cores). The pixel and edge tiers publish from machines
 * of their own. The simulated clock starts with the generation, so events go
 * out some seconds after their occurredAt, as late events do; every probe is
 * timed from when it was sent.
 */
async function planTraffic(seed: number, rate: number, count: number): Promise<PlannedTraffic> {
  const sessionsPerSecond = sessionsPerSecondFor(rate);
  const concurrency = Math.max(16, Math.round((SESSION_SPAN_S * rate) / MEAN_EVENTS_PER_SESSION));
  const source = createTrafficGenerator({ seed, integrationIds: [BIG_INTEGRATION], startAt: new Date(), sessionsPerSecond, concurrency }).messages();
  const progress = task(`generating the traffic of the ${rate} events/s pass`, count, 'events');
  const chunks: Buffer[] = [];
  // Message i's value, key and event id start at bounds[3i], [3i+1], [3i+2]; the next message at [3i+3].
  const bounds = new Float64Array(3 * count + 1);
  const startsSession = new Uint8Array(count);
  const occurredAtMs = new Float64Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const { event, key, value } = nextMessage(source);
    for (const [n, text] of [value, key, event.eventId].entries()) {
      const bytes = Buffer.from(text, 'utf8');
      bounds[3 * i + n] = at;
      chunks.push(bytes);
      at += bytes.length;
    }
    startsSession[i] = event.type === 'session.started' ? 1 : 0;
    occurredAtMs[i] = Date.parse(event.occurredAt);
    if (i % 5_000 === 0) {
      progress.update(i);
      // The raw consumer lives in this process: its heartbeats must not wait out the whole generation.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  bounds[3 * count] = at;
  progress.done();
  return new PlannedTraffic(Buffer.concat(chunks, at), bounds, startsSession, occurredAtMs);
}

/**
 * One pass: `seconds` of simulator traffic at `rate` into the big integration
 * (live traffic on a tenant with history), probes sampled as described above,
 * each polled until the API shows it.
 */
async function pass(ctx: BenchContext, rate: number, seconds: number, seed: number, extraWorkers: readonly Child[] = []): Promise<Pass> {
  const { env } = ctx;
  const api = ctx.api!;
  const key = ctx.keys[BIG_INTEGRATION] ?? '';
  const topic = env.config.kafka.topics.sessions;
  const sessionsPerSecond = sessionsPerSecondFor(rate);
  const newEvery = Math.max(1, Math.round(sessionsPerSecond / NEW_PROBES_PER_SECOND));
  const updateEvery = Math.max(1, Math.round(rate / UPDATE_PROBES_PER_SECOND));
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const planned = await planTraffic(seed, rate, ticks * perTick);
  const all: Probe[] = [];
  const startedAt = new Map<string, number>();
  const polls: Promise<void>[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const progress = task(`freshness @ ${rate} events/s`, ticks * perTick, 'events');
  const machine = await measureMachine();
  const cpu = await measureCpu({ projector: ctx.projector?.pid, ...Object.fromEntries(extraWorkers.map((w) => [w.name, w.pid])), api: api.child.pid, ...env.servicePids() });
  const before = ctx.projectorMetricsUrl ? await projectorStats(ctx.projectorMetricsUrl) : null;
  await env.clickhouseMeter.take();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  loopDelay.enable();

  const shows = (body: string, probe: Probe): boolean => {
    if (probe.kind === 'new') return true;
    const updatedAt = (JSON.parse(body) as { data?: { updatedAt?: string } }).data?.updatedAt;
    return updatedAt !== undefined && Date.parse(updatedAt) >= probe.occurredAtMs;
  };
  const poll = async (probe: Probe): Promise<void> => {
    while (performance.now() < probe.sentAt + PROBE_TIMEOUT_MS) {
      probe.polls += 1;
      const answer = await httpGet(`${api.url}/v1/sessions/${probe.sessionId}`, authHeaders(key));
      if (answer.status === 200 && shows(answer.body, probe)) {
        probe.visibleAt = performance.now();
        break;
      }
      if (answer.status !== 200 && answer.status !== 404) throw new Error(`GET /v1/sessions/${probe.sessionId} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
      // Every 20 ms at first, then every 5% of the time waited: the error stays under 20 ms or 5%, and a slow
      // system is not also buried under the poller's own requests.
      await sleep(Math.max(probe.kind === 'new' ? NEW_POLL_MS : POLL_MS, (performance.now() - probe.sentAt) / 20));
    }
    probe.pollEnded = true;
    release(probe);
  };

  const started = performance.now();
  let sent = 0;
  let sessions = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const wait = started + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const now = performance.now();
    const messages: Message[] = [];
    const fresh: Probe[] = [];
    for (let i = 0; i < perTick; i++) {
      const next = planned.message(sent + i);
      messages.push({ key: next.key, value: next.value });
      const candidate = { sessionId: next.key, eventId: next.eventId, occurredAtMs: next.occurredAtMs, sentAt: 0, polls: 0 };
      if (next.startsSession) {
        startedAt.set(next.key, now);
        if (sessions++ % newEvery === 0) fresh.push({ kind: 'new', ...candidate });
      } else if ((sent + i) % updateEvery === 0 && now - (startedAt.get(next.key) ?? now) >= SETTLED_MS && !open.has(next.key)) {
        fresh.push({ kind: 'update', ...candidate });
      }
    }
    const sentAt = performance.now();
    for (const probe of fresh) {
      probe.sentAt = sentAt;
      open.set(probe.sessionId, probe);
      all.push(probe);
    }
    const send = env.producer.send({ topic, acks: -1, messages }).finally(() => inFlight.delete(send));
    send.catch(() => undefined);
    inFlight.add(send);
    for (const probe of fresh) polls.push(poll(probe));
    sent += messages.length;
    // A producer that cannot keep up shows as a lower achieved rate, never as a pile of unsent batches.
    if (inFlight.size >= 8) await Promise.race(inFlight);
    progress.update(sent, `${all.length} probes`);
  }
  await Promise.all(inFlight);
  const achieved = round(sent / ((performance.now() - started) / 1000), 0);
  await Promise.all(polls);
  loopDelay.disable();
  // The histogram holds each sampling interval whole: lateness is what exceeds it.
  const late = (ns: number): number => round(Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS), 1);
  const harnessLoopDelay = { p50: late(loopDelay.percentile(50)), p99: late(loopDelay.percentile(99)), max: late(loopDelay.max) };
  const share = await cpu();
  const machineCoresBusy = await machine();
  const clickhouse = await env.clickhouseMeter.take();
  const projectorBatches = ctx.projectorMetricsUrl ? batchesBetween(before, await projectorStats(ctx.projectorMetricsUrl)) : null;
  const result: Pass = { rate, achieved, updates: stats(all, 'update', started), newSessions: stats(all, 'new', started), projectorBatches, cpu: share, machineCoresBusy, harnessLoopDelay, clickhouse };
  const missing = result.updates.missing + result.newSessions.missing;
  progress.done(`${achieved} events/s achieved; p99 ${result.updates.api.p99} ms${missing ? `, ${missing} probes never visible` : ''}`);
  return result;
}

/** Waits until the projector has committed everything produced (a backlog must not leak into the next phase). */
async function drain(ctx: BenchContext, timeoutMs: number): Promise<number> {
  const { env } = ctx;
  const topic = env.config.kafka.topics.sessions;
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const lag = (await topicTotal(env.admin, topic)) - (await committedTotal(env.admin, env.config.kafka.groupId, topic));
    if (lag <= 0) return round((performance.now() - started) / 1000, 1);
    await sleep(250);
  }
  log(`WARNING: the projector still lags after ${timeoutMs / 1000} s`);
  return Number.NaN;
}

const unseen = (missing: number): string =>
  missing === 0 ? 'every probe seen' : `${missing} probes not visible within ${PROBE_TIMEOUT_MS / 1000} s, counted at ${PROBE_TIMEOUT_MS / 1000} s (a lower bound)`;

function figures(ctx: BenchContext, p: Pass, label: string, target: boolean): void {
  const batches = p.projectorBatches
    ? `; projector batches ${p.projectorBatches.meanBatchMessages} msgs in ${p.projectorBatches.meanBatchMs} ms (${describeStages(p.projectorBatches)})`
    : '';
  const lag = p.harnessLoopDelay;
  const note = `${p.updates.probes} probes, ${p.achieved} events/s achieved${batches}; cores busy: ${describeCpu(p.cpu)}${p.machineCoresBusy === null ? '' : ` (the whole machine: ${p.machineCoresBusy} of ${cpus().length})`}; harness event loop late p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms`;
  const limit = target ? { target: { on: 'value' as const, op: '<=' as const, limit: 1_000 } } : {};
  addFigure(ctx, { bench: 'freshness', metric: `${label} p50`, unit: 'ms', value: p.updates.api.p50, baseline: { label: 'raw consumer', value: p.updates.raw.p50 }, note });
  const [slowestKind, slowest] = Object.entries(p.clickhouse).sort(([, a], [, b]) => b.maxMs - a.maxMs)[0] ?? [];
  const engine = slowest ? `; slowest ClickHouse statement ${slowest.maxMs} ms (${slowestKind}, mean ${slowest.meanMs} ms)` : '';
  addFigure(ctx, { bench: 'freshness', metric: `${label} p99`, unit: 'ms', value: p.updates.api.p99, baseline: { label: 'raw consumer', value: p.updates.raw.p99 }, ...limit, note: unseen(p.updates.missing) + engine });
  addFigure(ctx, {
    bench: 'freshness',
    metric: `${label} new-session p99`,
    unit: 'ms',
    value: p.newSessions.api.p99,
    baseline: { label: 'raw consumer', value: p.newSessions.raw.p99 },
    ...limit,
    note: `${p.newSessions.probes} probes, p50 ${p.newSessions.api.p50} ms; ${unseen(p.newSessions.missing)}`,
  });
}

/**
 * More projector workers in the live group, as a deployment runs them (compose
 * has two): each holds some partitions, so one worker's ClickHouse writes
 * overlap another's decoding and folding. Resolves once the group is stable
 * with all of them.
 */
async function joinWorkers(ctx: BenchContext, extra: number): Promise<Child[]> {
  const { env } = ctx;
  const workers: Child[] = [];
  for (let i = 2; i <= extra + 1; i++) {
    const worker = spawnChild(env, `projector-${i}`, join(REPO_ROOT, 'services/projector.ts'), { PROJECTOR_METRICS_PORT: String(await freePort()), KAFKA_CLIENT_ID: `projector-${i}` }, { service: 'projector' });
    ctx.memory.watch(worker.name, worker);
    workers.push(worker);
  }
  const deadline = Date.now() + 90_000;
  while (!(await groupSettled(env, env.config.kafka.groupId, extra + 1).catch(() => false))) {
    for (const worker of workers) await assertAlive(worker);
    if (Date.now() > deadline) throw new Error(`the group never stood stable with ${extra + 1} workers`);
    await sleep(250);
  }
  return workers;
}

/**
 * Produce → visible through the API at the stated rate; when that rate is
 * beyond what the projector carried in the ingest run, first a pass at half
 * that capacity, so the figures show the pipeline's latency as well as the
 * overload's. Baseline: the same probes seen by a plain kafkajs consumer.
 */
export async function runFreshness(ctx: BenchContext): Promise<void> {
  const { env, options } = ctx;
  const { freshnessRate: rate, freshnessSeconds: seconds, freshnessWorkers: workers } = options.sizes;
  if (!ctx.api || !ctx.projector) throw new Error('freshness needs the API and the projector running');
  const raw: Consumer = await startRawConsumer(env.kafka, {
    groupId: `fresh-raw-${env.run}`,
    topic: env.config.kafka.topics.sessions,
    partitions: env.config.kafka.topicPartitions,
    fromBeginning: false,
    onBatch: (batch) => {
      const now = performance.now();
      for (const m of batch.messages) {
        const probe = m.key ? open.get(m.key.toString()) : undefined;
        if (probe && probe.consumedAt === undefined && m.value?.includes(probe.eventId)) {
          probe.consumedAt = now;
          release(probe);
        }
      }
    },
  });
  const capacity = ctx.projectorEventsPerSecond ?? Number.POSITIVE_INFINITY;
  const passes: Record<string, Pass> = {};
  try {
    if (rate > 0.6 * capacity) {
      const easy = Math.max(100, Math.round(capacity / 2 / 100) * 100);
      passes.sustainable = await pass(ctx, easy, Math.min(seconds, 20), options.seed + 2);
      figures(ctx, passes.sustainable, `@ ${easy}/s (½ capacity)`, false);
      await drain(ctx, 120_000);
    }
    passes.stated = await pass(ctx, rate, seconds, options.seed + 1);
    figures(ctx, passes.stated, `@ ${rate}/s`, true);
    if (workers > 1) {
      await drain(ctx, 300_000);
      const extra = await joinWorkers(ctx, workers - 1);
      try {
        passes.deployed = await pass(ctx, rate, seconds, options.seed + 3, extra);
        figures(ctx, passes.deployed, `@ ${rate}/s, ${workers} workers`, true);
        await drain(ctx, 300_000);
      } finally {
        for (const worker of extra) await ctx.memory.release(worker.name);
        await Promise.all(extra.map((worker) => worker.stop()));
      }
    }
  } finally {
    await raw.disconnect();
  }
  const drainSeconds = await drain(ctx, 300_000);
  await assertAlive(ctx.projector);
  ctx.details.freshness = { ...passes, projectorCapacityFromIngest: round(capacity, 0), backlogDrainedInSeconds: drainSeconds };
  ctx.method.freshness =
    `Simulator traffic, generated before each pass so the generator takes no CPU from the measured system, sent in ${TICK_MS} ms batches into the big integration (live traffic on a tenant with history) while services/api.ts and services/projector.ts run as children: ` +
    `${seconds} s at ${rate} events/s, preceded by a pass at half the projector's ingest throughput when ${rate} exceeds 60% of it. ` +
    `Probes: ~${UPDATE_PROBES_PER_SECOND}/s events of sessions whose first event is ≥ ${SETTLED_MS} ms old (visible when the session's updatedAt reaches the event's time) ` +
    `and ~${NEW_PROBES_PER_SECOND}/s new sessions (visible when GET answers 200; each miss falls through to a ClickHouse lookup, hence few and polled every ${NEW_POLL_MS} ms). ` +
    `Latency = from handing the probe's batch to the producer until GET /v1/sessions/{id} shows it, polled every ${POLL_MS} ms (updates) or 5% of the time waited, whichever is longer. ` +
    `A probe not visible within ${PROBE_TIMEOUT_MS / 1000} s counts as ${PROBE_TIMEOUT_MS / 1000} s, so a percentile that reaches such probes is a lower bound. ` +
    `Each pass records the statements the engine served meanwhile, by kind (count, mean, max, the engine's own time), and the engine's child log lists every statement a client waited on for 250 ms or more. ` +
    `Baseline: the same probes seen by a plain kafkajs consumer. Afterwards the harness waits for the projector to drain any backlog (${drainSeconds} s).` +
    (workers > 1 ? ` Last, the stated rate again with ${workers} projector workers in the group, as compose deploys them (batch figures of that pass are worker 1's).` : '');
}
