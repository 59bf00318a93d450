import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { AssignerProtocol, Partitioners, type Admin, type Kafka, type Message, type Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { loadStats } from '../../projections/stats/stats.queries.js';
import type { ClickHouseGateway } from '../../projections/store/clickhouse-gateway.js';
import { projectionKeys } from '../../projections/store/redis-keys.js';
import { tableNames } from '../../projections/store/table-set.js';
import type { Generations } from '../../projections/store/generations.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import { Topics } from '../../schemas/events/topics.js';
import { createHttpGateway } from '../../services/clickhouse/http-driver.js';
import { createRng } from '../../services/simulator/rng.js';
import { expectedTotals } from '../../services/simulator/totals.js';
import { createTrafficGenerator } from '../../services/simulator/traffic.js';
import { startClickHouseHttpEndpoint, type ClickHouseHttpEndpoint } from '../support/clickhouse-http-endpoint.js';
import { eventually } from '../support/poll.js';
import { groupLag, startStack, type TestStack } from '../support/stack.js';


/** A ClickHouse HTTP endpoint over an embedded engine in this process: children reach it as they would a server. */
export interface HttpClickHouse {
  endpoint: ClickHouseHttpEndpoint;
  /** A fresh HTTP gateway for a stack; the stack closes it, the endpoint lives on. */
  stackOption(): { gateway: ClickHouseGateway; stop(): Promise<void> };
  stop(): Promise<void>;
}

export async function startHttpClickHouse(): Promise<HttpClickHouse> {
  const dir = await mkdtemp(join(tmpdir(), 'notai-faults-ch-'));
  const endpoint = await startClickHouseHttpEndpoint({ path: dir });
  return {
    endpoint,
    stackOption: () => ({
      gateway: createHttpGateway({ url: endpoint.url, username: 'default', password: '', database: 'default', requestTimeoutMs: 30_000 }),
      stop: async () => undefined,
    }),
    async stop() {
      await endpoint.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What a suite of projector child processes runs against; its fields are set once the suite's beforeAll has run. */
export interface ChildProcessSuite {
  clickhouse: HttpClickHouse;
  stack: TestStack;
  /** The suite's scenario rows, printed as one table after its tests. */
  rows: ScenarioRow[];
}

/**
 * Registers a suite's lifecycle: before its tests an HTTP ClickHouse (children
 * reach it as a server) and a stack whose topic has `partitions` partitions;
 * after them, the scenario table under `title`, then both stopped.
 */
export function childProcessSuite(name: string, title: string, partitions: number): ChildProcessSuite {
  const suite = { rows: [] as ScenarioRow[] } as ChildProcessSuite;
  beforeAll(async () => {
    suite.clickhouse = await startHttpClickHouse();
    suite.stack = await startStack({ name, clickhouse: suite.clickhouse.stackOption(), env: { KAFKA_TOPIC_PARTITIONS: String(partitions) } });
  });
  afterAll(async () => {
    printScenarioTable(title, suite.rows);
    await suite.stack?.stop();
    await suite.clickhouse?.stop();
  });
  return suite;
}

export interface FaultTraffic {
  /** Each event once, in first-publish order: what the oracle counts. */
  events: SessionEvent[];
  /** What goes to Kafka: the events plus re-publishes of ~`duplicateShare` of them at later offsets. */
  published: SessionEvent[];
  duplicates: number;
}

/** Deterministic interleaved sessions (the same seed gives the same bytes), then seeded duplicate publishes. */
export function faultTraffic(seed: number, integrationIds: string[], count: number, duplicateShare = 0.1): FaultTraffic {
  const messages = createTrafficGenerator({ seed, integrationIds, startAt: new Date(Date.now() - 3_600_000) }).messages();
  const events: SessionEvent[] = [];
  while (events.length < count) {
    const next = messages.next();
    if (next.done) break;
    events.push(next.value.event);
  }
  // A copy lands 1..400 positions later: sometimes in the same batch as the original, mostly in a later one.
  const rng = createRng(seed + 1);
  const slots = events.map((event, i) => ({ event, at: i }));
  for (const [i, event] of events.entries()) if (rng.chance(duplicateShare)) slots.push({ event, at: i + rng.int(1, 400) + 0.5 });
  slots.sort((a, b) => a.at - b.at);
  return { events, published: slots.map((s) => s.event), duplicates: slots.length - events.length };
}

export function chunked<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Several small sends: one record batch per partition must stay under the broker's message size limit. */
export async function publishAll(stack: TestStack, events: readonly SessionEvent[], size = 250): Promise<void> {
  for (const chunk of chunked(events, size)) await stack.publish(chunk);
}

export interface IntegrationView {
  redis: {
    sessions: number;
    sessionsByStatus: Record<string, number>;
    identified: number;
    ended: number;
    events: number;
    eventsByType: Record<string, number>;
    activities: number;
  };
  clickhouse: {
    /** count() of sessions FINAL */
    sessions: number;
    /** uniqExact(event_id) of session_events FINAL */
    uniqueEvents: number;
    /** count() of session_events FINAL: one row per event */
    rows: number;
    /** count() of session_events without FINAL: a row inserted twice shows here before any merge */
    rawRows: number;
    /** Timeline entries of session_events FINAL: one per lifecycle event or activity item */
    entries: number;
    /** sum(events), sum(items) of the events_hourly materialized aggregate */
    hourlyEvents: number;
    hourlyItems: number;
  };
}
export type ReadModelView = Record<string, IntegrationView>;

/** What the read model must hold after consuming `events` (each counted once), per integration. */
export function expectedView(events: readonly SessionEvent[]): ReadModelView {
  const totals = expectedTotals(events);
  const unique = new Map(events.map((e) => [e.eventId, e]));
  const view: ReadModelView = {};
  for (const [integrationId, t] of Object.entries(totals.byIntegration)) {
    const own = [...unique.values()].filter((e) => e.integrationId === integrationId);
    const activities = own.reduce((n, e) => n + (e.type === 'session.activity' ? e.data.activities.length : 0), 0);
    const entries = own.reduce((n, e) => n + (e.type === 'session.activity' ? e.data.activities.length : 1), 0);
    view[integrationId] = {
      redis: {
        sessions: t.sessions,
        sessionsByStatus: t.latestStatus,
        identified: t.identifiedSessions,
        ended: t.endedSessions,
        events: own.length,
        eventsByType: Object.fromEntries(Object.entries(t.eventsByType).filter(([, n]) => n > 0)),
        activities,
      },
      clickhouse: { sessions: t.sessions, uniqueEvents: own.length, rows: own.length, rawRows: own.length, entries, hourlyEvents: own.length, hourlyItems: entries },
    };
  }
  return view;
}

/** What the read model holds, read from the given generations (default: 1, where a stack without rebuilds serves). */
export async function observedView(stack: TestStack, integrationIds: readonly string[], generations: number | Generations = 1): Promise<ReadModelView> {
  const keys = projectionKeys(stack.config.redis.keyPrefix, generations);
  const tables = tableNames(generations);
  const view: ReadModelView = {};
  for (const integrationId of integrationIds) {
    const stats = await loadStats(stack.redis, keys, integrationId);
    const [ch] = await stack.clickhouse.query<IntegrationView['clickhouse']>(
      `SELECT
         (SELECT toUInt32(count()) FROM ${tables.sessions} FINAL WHERE integration_id = {i:String}) AS sessions,
         (SELECT toUInt32(uniqExact(event_id)) FROM ${tables.session_events} FINAL WHERE integration_id = {i:String}) AS uniqueEvents,
         (SELECT toUInt32(count()) FROM ${tables.session_events} FINAL WHERE integration_id = {i:String}) AS rows,
         (SELECT toUInt32(count()) FROM ${tables.session_events} WHERE integration_id = {i:String}) AS rawRows,
         (SELECT toUInt32(sum(length(item_kind))) FROM ${tables.session_events} FINAL WHERE integration_id = {i:String}) AS entries,
         (SELECT toUInt32(sum(events)) FROM ${tables.events_hourly} WHERE integration_id = {i:String}) AS hourlyEvents,
         (SELECT toUInt32(sum(items)) FROM ${tables.events_hourly} WHERE integration_id = {i:String}) AS hourlyItems`,
      { i: integrationId },
    );
    if (!ch) throw new Error('no ClickHouse answer');
    view[integrationId] = {
      redis: {
        sessions: stats.sessions,
        sessionsByStatus: stats.sessionsByStatus,
        identified: stats.identifiedSessions,
        ended: stats.endedSessions,
        events: stats.events,
        eventsByType: stats.eventsByType,
        activities: stats.activities,
      },
      clickhouse: ch,
    };
  }
  return view;
}

function leaves(value: unknown, path: string, out: Map<string, number>): void {
  if (typeof value === 'number') out.set(path, value);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) leaves(v, `${path}.${k}`, out);
}

/** Shortfalls ("lost") and excesses ("double-counted"), summed over every checked counter. */
export function discrepancies(expected: ReadModelView, actual: ReadModelView): { lost: number; doubleCounted: number } {
  const want = new Map<string, number>();
  const got = new Map<string, number>();
  leaves(expected, '', want);
  leaves(actual, '', got);
  let lost = 0;
  let doubleCounted = 0;
  for (const path of new Set([...want.keys(), ...got.keys()])) {
    const diff = (got.get(path) ?? 0) - (want.get(path) ?? 0);
    if (diff < 0) lost -= diff;
    else doubleCounted += diff;
  }
  return { lost, doubleCounted };
}

/** Sum of committed offsets of a group (partitions without a commit count 0): grows as a worker makes progress. */
export async function committedTotal(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/**
 * Gives `to` the committed offsets of `from`. Kafka keeps a SIGKILLed member in
 * its group until the session timeout (30 s in projector-consumer.ts), and a
 * newcomer's join waits for it; a successor group that starts at exactly the
 * dead worker's commits is the same recovery without that wait.
 */
export async function handOverOffsets(admin: Admin, from: string, to: string, topics: readonly string[]): Promise<void> {
  for (const topic of topics) {
    const [committed] = await admin.fetchOffsets({ groupId: from, topics: [topic] });
    const partitions = (committed?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => ({ partition: p.partition, offset: p.offset }));
    if (partitions.length > 0) await admin.setOffsets({ groupId: to, topic, partitions });
  }
}

/**
 * Drained: the group has committed everything (lag 0, so both sinks accepted
 * every batch) and two successive reads of the read model agree.
 */
export async function waitDrained(
  stack: TestStack,
  groupId: string,
  integrationIds: readonly string[],
  timeoutMs = 90_000,
  generations: number | Generations = 1,
): Promise<ReadModelView> {
  let previous = '';
  return eventually(
    async () => {
      const lag = await groupLag(stack.admin, groupId, stack.config.kafka.topics.sessions);
      if (lag !== 0) {
        previous = '';
        throw new Error(`consumer lag ${lag}`);
      }
      const view = await observedView(stack, integrationIds, generations);
      const text = JSON.stringify(view);
      const stable = text === previous;
      previous = text;
      if (!stable) throw new Error('lag 0; read model not yet stable');
      return view;
    },
    { timeoutMs, intervalMs: 250, what: `group ${groupId} drained` },
  );
}

/** The child's configuration: the stack's namespace, key prefix and brokers; ClickHouse over HTTP. */
export function projectorEnv(stack: TestStack, clickhouseUrl: string, groupId: string, extra: Record<string, string> = {}): Record<string, string> {
  const { kafka, redis } = stack.config;
  return {
    KAFKA_BROKERS: (kafka.brokers ?? []).join(','),
    KAFKA_TOPIC_NAMESPACE: kafka.topics.sessions.slice(0, -Topics.sessions.length),
    KAFKA_TOPIC_PARTITIONS: String(kafka.topicPartitions),
    KAFKA_GROUP_ID: groupId,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.keyPrefix,
    CLICKHOUSE_DRIVER: 'http',
    CLICKHOUSE_URL: clickhouseUrl,
    API_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // Small batches: thousands of events make dozens of batches, so a crash lands mid-stream.
    BATCH_MAX_ROWS: '200',
    BATCH_MAX_WAIT_MS: '50',
    SINK_RETRY_MAX_MS: '1000',
    ...extra,
  };
}

/** Failed batch attempts recorded by projector_sink_failures_total for one sink. */
export async function sinkFailures(registry: Registry, sink: 'clickhouse' | 'redis'): Promise<number> {
  const metric = registry.getSingleMetric('projector_sink_failures_total');
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => v.labels['sink'] === sink).reduce((n, v) => n + v.value, 0);
}

export interface ScenarioRow {
  scenario: string;
  produced: number;
  faults: string;
  lost: number;
  doubleCounted: number;
  recoverMs: number;
}

export function printScenarioTable(title: string, rows: readonly ScenarioRow[]): void {
  const header = ['scenario', 'events produced', 'faults injected', 'lost', 'double-counted', 'time to recover'];
  const cells = rows.map((r) => [r.scenario, String(r.produced), r.faults, String(r.lost), String(r.doubleCounted), `${(r.recoverMs / 1000).toFixed(1)} s`]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: readonly string[]) => `| ${c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  console.log([`\n${title}`, line(header), rule, ...cells.map(line)].join('\n'));
}

/**
 * A `sendBatch` that survives broker deaths without losing messages. kafkajs
 * 2.2.4 can silently drop messages when one send spans several brokers and one
 * of them dies mid-send (tulios/kafkajs#1303), so every send here holds one
 * partition only (the default partitioner's choice, made up front), hence one
 * leader. A send that fails is retried whole with a fresh producer until
 * acknowledged: at-least-once, which the projections' dedup by event id absorbs.
 */
export interface LeaderSafePublisher {
  sendBatch(batch: { topicMessages?: { topic: string; messages: Message[] }[] }): Promise<void>;
  /** Messages acknowledged so far. */
  sent(): number;
  /** Sends that failed and went again. */
  retriedSends(): number;
  stop(): Promise<void>;
}

export function leaderSafePublisher(kafka: Kafka, partitionsOf: (topic: string) => number, timeoutMs = 120_000): LeaderSafePublisher {
  const partitioner = Partitioners.DefaultPartitioner();
  const metadata = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [], isr: [] }));
  let producer: Producer | null = null;
  let sent = 0;
  let retried = 0;
  const open = async (): Promise<Producer> => {
    if (producer) return producer;
    const p = kafka.producer({ allowAutoTopicCreation: false });
    await p.connect();
    producer = p;
    return p;
  };
  const sendOne = (topic: string, partition: number, messages: Message[]) =>
    eventually(
      async () => {
        try {
          await (await open()).send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
          return true;
        } catch (error) {
          retried += 1;
          const broken = producer;
          producer = null;
          await broken?.disconnect().catch(() => undefined);
          throw error;
        }
      },
      { timeoutMs, intervalMs: 250, what: `a send to ${topic}[${partition}] acknowledged` },
    );
  return {
    async sendBatch({ topicMessages = [] }) {
      for (const { topic, messages } of topicMessages) {
        const partitionMetadata = metadata(partitionsOf(topic));
        const byPartition = new Map<number, Message[]>();
        for (const message of messages) {
          const p = partitioner({ topic, partitionMetadata, message });
          byPartition.set(p, [...(byPartition.get(p) ?? []), message]);
        }
        for (const [partition, list] of [...byPartition].sort(([a], [b]) => a - b)) {
          await sendOne(topic, partition, list);
          sent += list.length;
        }
      }
    },
    sent: () => sent,
    retriedSends: () => retried,
    stop: async () => producer?.disconnect().catch(() => undefined),
  };
}

/** The members of a consumer group by client id, with the partitions of `topic` each holds. */
/** Waits until the group is Stable with exactly these members, each holding partitions of `topic`, and all `partitions` held. */
export function groupSettled(admin: Admin, groupId: string, topic: string, partitions: number, names: readonly string[], what: string, timeoutMs: number) {
  return eventually(() => groupMembers(admin, groupId, topic), {
    until: (g) =>
      g.state === 'Stable' &&
      Object.keys(g.members).sort().join() === [...names].sort().join() &&
      Object.values(g.members).every((p) => p.length > 0) &&
      Object.values(g.members).flat().length === partitions,
    timeoutMs,
    intervalMs: 200,
    what,
  });
}

export async function groupMembers(admin: Admin, groupId: string, topic: string): Promise<{ state: string; members: Record<string, number[]> }> {
  const { groups } = await admin.describeGroups([groupId]);
  const group = groups[0];
  const members: Record<string, number[]> = {};
  for (const m of group?.members ?? []) {
    const assignment = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
    members[m.clientId] = [...(members[m.clientId] ?? []), ...(assignment?.assignment[topic] ?? [])].sort((a, b) => a - b);
  }
  return { state: group?.state ?? 'Unknown', members };
}

/** Sum of every series of a counter or gauge in a child's Prometheus /metrics (0 when absent). */
export async function scrapeMetric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

export interface TopicMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Every message of `topic` up to its current high watermarks, read by a
 * throwaway consumer group. `maxBytesPerPartition` must exceed the largest
 * record batch (oversized dead letters are one batch each, up to ~1 MiB).
 */
export async function readTopic(kafka: Kafka, admin: Admin, topic: string, maxBytesPerPartition = 4 * 1024 * 1024): Promise<TopicMessage[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const seen = new Map<string, TopicMessage>();
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}`, maxBytesPerPartition, maxBytes: 4 * maxBytesPerPartition });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v ?? '')]));
      seen.set(`${partition}/${message.offset}`, { partition, offset: message.offset, key: message.key, value: message.value, headers });
    },
  });
  try {
    await eventually(() => seen.size, { until: (n) => n >= total, timeoutMs: 90_000, what: `all ${total} messages of ${topic}` });
    return [...seen.values()];
  } finally {
    await consumer.disconnect();
  }
}
