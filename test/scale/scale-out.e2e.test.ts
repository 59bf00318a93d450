import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaCluster, type KafkaCluster } from '../../provision/kafka-broker.js';
import { publishTraffic } from '../../services/simulator/publisher.js';
import { toMessage } from '../../services/simulator/traffic.js';
import { expectedTotals } from '../../services/simulator/totals.js';
import {
  committedTotal,
  discrepancies,
  expectedView,
  faultTraffic,
  groupSettled,
  leaderSafePublisher,
  printScenarioTable,
  projectorEnv,
  scrapeMetric,
  startHttpClickHouse,
  waitDrained,
  type HttpClickHouse,
  type ScenarioRow,
} from '../faults/fault-support.js';
import { eventually } from '../support/poll.js';
import { startProjectorProcess, type ProjectorProcess } from '../support/projector-process.js';
import { provisionIntegration } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

/**
 * The scale-out shape end to end, every part a real process: a 3-broker KRaft
 * cluster (topics replicated 3 times), projector workers in one consumer group,
 * two API replicas, ClickHouse over the http driver, Redis. Simulator traffic
 * (with duplicates) flows at a steady rate while the group changes under it:
 * a worker joins, one leaves on SIGTERM, one is SIGKILLed and replaced, and the
 * broker coordinating the group is SIGKILLed and restarted. Afterwards the read
 * model is exact, and both API replicas answer every request byte for byte alike
 * (cursors made by one replica continue on the other).
 *
 * Regression: with the coordinator's broker SIGKILLed, workers used to stop for good
 * (kafkajs retried the commit against the dead coordinator forever; see
 * projections/runtime/projector-consumer.ts).
 */

const IDS = ['int_scale_a', 'int_scale_b'];
const EVENTS = 5_000;
const RATE = 110;
const PARTITIONS = 6;
/** The smallest session timeout the broker allows: a SIGKILLed worker's partitions move after 6 s, not 30. */
const SESSION_TIMEOUT_MS = '6000';
const CURSOR_SECRET = 'scale-out-shared-cursor-secret';

let cluster: KafkaCluster;
let clickhouse: HttpClickHouse;
let stack: TestStack;
const rows: ScenarioRow[] = [];
const timeline: string[] = [];

/** A projector worker's total of projected messages, from its /metrics (read before it goes away). */
const projectedBy = (child: ProjectorProcess): Promise<number> => scrapeMetric(child.port, 'projector_batch_messages_sum');

describe('scale-out end to end: 3 Kafka brokers, changing projector workers, 2 API replicas', () => {
  beforeAll(async () => {
    cluster = await startKafkaCluster(3, { log: (m) => console.log(`[scale-out] ${m}`) });
    clickhouse = await startHttpClickHouse();
    // The env overrides win over the run's shared single broker: this stack lives on the 3-node cluster.
    stack = await startStack({
      name: 'scale-out',
      clickhouse: clickhouse.stackOption(),
      env: { KAFKA_BROKERS: cluster.brokers.join(','), KAFKA_REPLICATION_FACTOR: '3', KAFKA_TOPIC_PARTITIONS: String(PARTITIONS) },
    });
  });
  afterAll(async () => {
    printScenarioTable('scale-out end to end', rows);
    if (timeline.length > 0) console.log(`\nscale-out timeline\n${timeline.join('\n')}`);
    await stack?.stop();
    await clickhouse?.stop();
    await cluster?.stop();
  });

  it('stays exact while workers come and go and a broker dies; both API replicas answer identically', { timeout: 300_000 }, async () => {
    const started = performance.now();
    const { admin } = stack;
    const topic = stack.config.kafka.topics.sessions;
    const groupId = stack.config.kafka.groupId;
    expect(stack.config.kafka.brokers).toEqual(cluster.brokers);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions.map((p) => p.replicas.length)).toEqual(Array(PARTITIONS).fill(3));

    const logs = await mkdtemp(join(tmpdir(), 'notai-scale-out-'));
    let keepLogs = false;
    const workers = new Map<string, ProjectorProcess>();
    const apis: ProjectorProcess[] = [];
    const projected: Record<string, number> = {};
    const traffic = faultTraffic(9301, IDS, EVENTS);
    const publisher = leaderSafePublisher(stack.kafka, (t) => (t === topic ? PARTITIONS : 3));
    const note = async (what: string) => {
      // Right after a broker dies the admin's own coordinator lookup can take seconds: the line must not wait for it.
      const committed = await Promise.race([committedTotal(admin, groupId, topic).catch(() => '?'), delay(1_000, '?')]);
      timeline.push(`  +${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s  ${what.padEnd(60)} published ${publisher.sent()}/${traffic.published.length}, committed ${committed}`);
    };
    const startWorker = async (name: string): Promise<ProjectorProcess> => {
      const env = projectorEnv(stack, clickhouse.endpoint.url, groupId, { KAFKA_SESSION_TIMEOUT_MS: SESSION_TIMEOUT_MS, KAFKA_CLIENT_ID: name, KAFKA_REPLICATION_FACTOR: '3' });
      const child = await startProjectorProcess({ env, logFile: join(logs, `${name}.log`) });
      workers.set(name, child);
      return child;
    };
    const groupIs = (names: string[], what: string) => groupSettled(admin, groupId, topic, PARTITIONS, names, what, 90_000);
    const steps: Omit<ScenarioRow, 'lost' | 'doubleCounted'>[] = [];
    /** Marks a fault: what was published by then, and (when called back) how long recovery took. */
    const fault = () => {
      const produced = publisher.sent();
      const from = performance.now();
      return () => ({ produced, recoverMs: performance.now() - from });
    };
    const publishedAtLeast = (share: number) =>
      eventually(() => publisher.sent(), { until: (n) => n >= Math.floor(traffic.published.length * share), timeoutMs: 120_000, what: `${share * 100}% of the traffic published` });

    const stopTraffic = new AbortController();
    let publishing: Promise<unknown> | undefined;
    try {
      // Keys first, as the dashboard would mint them; the workers project them into the key index.
      const keys = await Promise.all(IDS.map((integrationId) => provisionIntegration(stack, { integrationId, tier: 'enterprise' })));
      await Promise.all(['w1', 'w2'].map(startWorker));
      for (const name of ['a', 'b']) {
        const env = { ...projectorEnv(stack, clickhouse.endpoint.url, groupId), API_CURSOR_SECRET: CURSOR_SECRET, API_DRAIN_MS: '0' };
        apis.push(await startProjectorProcess({ entry: 'api', env, logFile: join(logs, `api-${name}.log`) }));
      }
      await Promise.all([...workers.values(), ...apis].map((c) => c.waitReady(90_000)));
      await groupIs(['w1', 'w2'], 'the group of w1 and w2');
      await note('w1, w2 in the group; APIs a, b ready');

      // Traffic: the simulator's publisher at a steady rate, through leader-safe sends.
      const messages = traffic.published.map(toMessage);
      publishing = publishTraffic(
        messages[Symbol.iterator](),
        { rate: RATE, batchSize: 50, maxMessages: messages.length, topic, progress: 'none', signal: stopTraffic.signal },
        { producer: { sendBatch: async (batch) => (await publisher.sendBatch(batch), []) }, logger: stack.logger },
      );
      publishing.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"

      await publishedAtLeast(0.12);
      let at = fault();
      await startWorker('w3');
      await groupIs(['w1', 'w2', 'w3'], 'w3 to join');
      steps.push({ ...at(), scenario: 'scale out 2→3', faults: 'w3 started; recover = in the group, 2 partitions each' });
      await note('scaled out: w3 joined, 6 partitions over 3 workers');

      await publishedAtLeast(0.3);
      const w1 = workers.get('w1')!;
      projected.w1 = await projectedBy(w1);
      at = fault();
      expect(await w1.stop(30_000), await w1.tail()).toEqual({ code: 0, signal: null });
      await groupIs(['w2', 'w3'], 'the group after w1 left');
      steps.push({ ...at(), scenario: 'scale in 3→2', faults: 'w1 SIGTERM (exit 0); recover = group settled on w2, w3' });
      await note('scaled in: w1 SIGTERM, finished its batch, left, exit 0');

      await publishedAtLeast(0.45);
      const w2 = workers.get('w2')!;
      projected.w2 = await projectedBy(w2);
      at = fault();
      w2.kill('SIGKILL');
      expect((await w2.exited).signal).toBe('SIGKILL');
      await note('w2 SIGKILLed mid-stream; w4 started as its replacement');
      await startWorker('w4');
      await groupIs(['w3', 'w4'], 'w2 to time out of the group and w4 to join');
      steps.push({ ...at(), scenario: 'worker crash', faults: 'w2 SIGKILL, w4 started; recover = group settled on w3, w4' });
      await note('group settled on w3, w4');

      await publishedAtLeast(0.6);
      // The group coordinator's broker: the leader of the single __consumer_offsets partition.
      const offsets = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
      const coordinatorId = offsets.topics[0]?.partitions[0]?.leader;
      const victim = cluster.nodes.find((n) => n.nodeId === coordinatorId);
      if (!victim) throw new Error(`no node leads __consumer_offsets (leader ${coordinatorId})`);
      const committedAtKill = await committedTotal(admin, groupId, topic);
      await note(`killing broker ${victim.nodeId}, the group coordinator`);
      at = fault();
      victim.kill('SIGKILL');
      await eventually(() => victim.pid === undefined, { timeoutMs: 15_000, what: 'the broker to die' });
      await note(`broker ${victim.nodeId} (group coordinator) SIGKILLed`);
      // With one of three brokers dead, leaders and the coordinator move, and projecting goes on.
      await eventually(() => committedTotal(admin, groupId, topic), { until: (n) => n > committedAtKill, timeoutMs: 90_000, intervalMs: 100, what: 'commits to resume with a broker down' });
      steps.push({ ...at(), scenario: 'broker crash', faults: `broker ${victim.nodeId} (group coordinator) SIGKILL; recover = commits resume` });
      await eventually(() => committedTotal(admin, groupId, topic), { until: (n) => n >= committedAtKill + 300, timeoutMs: 90_000, intervalMs: 200, what: 'progress with a broker down' });
      await note(`progress with broker ${victim.nodeId} down`);
      at = fault();
      await victim.restart();
      steps.push({ ...at(), scenario: 'broker restart', faults: `broker ${victim.nodeId} started again; recover = every node lists it` });
      await note(`broker ${victim.nodeId} restarted and rejoined`);

      const result = await publishing;
      await note(`traffic done (${publisher.retriedSends()} sends retried)`);
      expect(result).toMatchObject({ sent: messages.length, stoppedBy: 'count' });
      // Read back: the log holds at least every acknowledged message (a retried send may add copies).
      const ends = await admin.fetchTopicOffsets(topic);
      expect(ends.reduce((n, p) => n + Number(p.high), 0)).toBeGreaterThanOrEqual(messages.length);

      const trafficDoneAt = performance.now();
      const view = await waitDrained(stack, groupId, IDS, 120_000);
      await note('drained: lag 0, read model stable');
      const expected = expectedView(traffic.events);
      const { lost, doubleCounted } = discrepancies(expected, view);
      // Exactness is checked once, over the whole run: every row carries the run's lost and double-counted.
      for (const step of steps) rows.push({ ...step, lost, doubleCounted });
      rows.push({
        scenario: 'whole run',
        produced: traffic.published.length,
        faults: `all of the above; ${traffic.duplicates} duplicate events, ${publisher.retriedSends()} sends retried; recover = drained after the last send`,
        lost,
        doubleCounted,
        recoverMs: performance.now() - trafficDoneAt,
      });
      expect(view).toEqual(expected);
      expect({ lost, doubleCounted }).toEqual({ lost: 0, doubleCounted: 0 });

      // Both replicas, the same requests: identical bytes. Lists are paged to the end; each page's cursor
      // (the same bytes from both) goes to both, so a cursor from either replica is continued by the other.
      const mismatches: string[] = [];
      let compared = 0;
      const both = async (path: string, key: string): Promise<any> => {
        const answers = await Promise.all(
          apis.map(async (api) => {
            const response = await fetch(`http://127.0.0.1:${api.port}${path}`, { headers: { authorization: `Bearer ${key}` } });
            return { status: response.status, text: await response.text() };
          }),
        );
        const [a, b] = answers as [{ status: number; text: string }, { status: number; text: string }];
        compared += 1;
        if (a.status !== 200 || b.status !== 200 || a.text !== b.text) mismatches.push(`${path}: ${a.status} ${a.text.slice(0, 200)} | ${b.status} ${b.text.slice(0, 200)}`);
        return JSON.parse(a.text);
      };
      const pageAll = async (path: string, key: string): Promise<any[]> => {
        const items: any[] = [];
        let cursor: string | null = null;
        do {
          const page: any = await both(`${path}${path.includes('?') ? '&' : '?'}limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, key);
          items.push(...(page.data ?? []));
          cursor = page.pagination?.nextCursor ?? null;
        } while (cursor);
        return items;
      };
      const totals = expectedTotals(traffic.events).byIntegration;
      const hour = 3_600_000;
      const since = new Date(Math.floor((Date.now() - 3 * hour) / hour) * hour).toISOString();
      const until = new Date(Math.ceil((Date.now() + hour) / hour) * hour).toISOString();
      for (const [i, integrationId] of IDS.entries()) {
        const key = keys[i]!.rawKey;
        const want = expected[integrationId]!.redis;
        const stats = (await both('/v1/stats', key)).data;
        expect(stats).toMatchObject({ sessions: want.sessions, events: want.events, identifiedSessions: want.identified, endedSessions: want.ended, activities: want.activities, eventsByType: want.eventsByType, sessionsByStatus: want.sessionsByStatus });
        await both('/v1/integration', key);
        const sessions = await pageAll('/v1/sessions', key);
        expect(sessions).toHaveLength(want.sessions);
        expect(new Set(sessions.map((s) => s.id)).size).toBe(want.sessions);
        const flagged = await pageAll('/v1/sessions?status=bot,suspicious', key);
        expect(flagged).toHaveLength((want.sessionsByStatus.bot ?? 0) + (want.sessionsByStatus.suspicious ?? 0));
        for (const session of [sessions[0], sessions[Math.floor(sessions.length / 2)], sessions.at(-1)]) {
          await both(`/v1/sessions/${session.id}`, key);
          await both(`/v1/sessions/${session.id}/details`, key);
          await pageAll(`/v1/sessions/${session.id}/events`, key);
        }
        for (const query of ['granularity=hour', 'granularity=hour&breakdown=flag', 'granularity=day&breakdown=eventType']) {
          await both(`/v1/analytics?since=${since}&until=${until}&${query}`, key);
        }
        const users = await pageAll('/v1/users', key);
        expect(users).toHaveLength(totals[integrationId]!.users);
        if (users[0]) await pageAll(`/v1/users/${encodeURIComponent(users[0].id)}/sessions`, key);
        expect(await pageAll('/v1/courses', key)).toHaveLength(totals[integrationId]!.courses);
      }
      await note(`both APIs compared on ${compared} requests`);
      expect(mismatches).toEqual([]);
      expect(compared).toBeGreaterThan(40);

      // Every worker did a share of the work, and the survivors shut down cleanly.
      for (const name of ['w3', 'w4']) projected[name] = await projectedBy(workers.get(name)!);
      expect(Object.values(projected).every((n) => n > 0), JSON.stringify(projected)).toBe(true);
      for (const name of ['w3', 'w4']) expect(await workers.get(name)!.stop()).toEqual({ code: 0, signal: null });
      for (const api of apis) expect(await api.stop()).toEqual({ code: 0, signal: null });
      // Not asserted (it depends on timing): how often kafkajs restarted a consumer, e.g. after the coordinator died.
      const restarts: Record<string, number> = {};
      for (const name of workers.keys()) restarts[name] = ((await readFile(join(logs, `${name}.log`), 'utf8')).match(/"msg":"consumer crashed"/g) ?? []).length;
      await note(`all stopped; messages projected ${JSON.stringify(projected)}, consumer restarts ${JSON.stringify(restarts)}`);
    } catch (error) {
      for (const [name, child] of [...workers, ...apis.map((a, i) => [`api-${i ? 'b' : 'a'}`, a] as const)]) {
        console.log(`--- ${name} (pid ${child.pid}) log tail ---\n${await child.tail(40)}`);
      }
      keepLogs = process.env.SCALE_KEEP_LOGS === '1';
      throw error;
    } finally {
      stopTraffic.abort();
      await publishing?.catch(() => undefined);
      await publisher.stop();
      for (const child of [...workers.values(), ...apis]) if (!child.exitInfo()) await child.stop(5_000);
      if (keepLogs) console.log(`[scale-out] logs kept in ${logs}`);
      else await rm(logs, { recursive: true, force: true });
      console.log(`[scale-out] test body ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  });
});
