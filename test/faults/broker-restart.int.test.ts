import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaBroker, type KafkaBroker } from '../../provision/kafka-broker.js';
import { eventKey } from '../../schemas/events/decode.js';
import { eventually } from '../support/poll.js';
import { startProjectorProcess, type ProjectorProcess } from '../support/projector-process.js';
import { groupLag, startStack, type TestStack } from '../support/stack.js';
import {
  chunked,
  committedTotal,
  discrepancies,
  expectedView,
  faultTraffic,
  leaderSafePublisher,
  printScenarioTable,
  projectorEnv,
  startHttpClickHouse,
  waitDrained,
  type HttpClickHouse,
  type ScenarioRow,
} from './fault-support.js';

/**
 * The broker itself goes away mid-traffic: once with a clean restart (SIGTERM,
 * start on the same ports and data) and once SIGKILLed and started again. The
 * projector child must ride both out without help, and the publisher keeps
 * going, re-sending a chunk whose send failed (at-least-once publishing: the
 * projections dedupe by event id). Afterwards the read model is exact.
 *
 * Regression: after the SIGKILL outage outlived the worker's session, its next
 * offset commit was refused (UNKNOWN_MEMBER_ID), which kafkajs treats as fatal:
 * the consumer stopped for good while the process lived on, lag growing forever.
 *
 * This file runs its own broker: the run's shared broker serves every other file.
 */

const EVENTS = 3_000;
const IDS = ['int_brk_a', 'int_brk_b', 'int_brk_c'];
let broker: KafkaBroker;
let clickhouse: HttpClickHouse;
let stack: TestStack;
const rows: ScenarioRow[] = [];

describe('Kafka broker restarts under traffic (own broker, projector child process)', () => {
  beforeAll(async () => {
    broker = await startKafkaBroker();
    clickhouse = await startHttpClickHouse();
    // The env override wins over the run's injected broker: this stack lives on the broker we may kill.
    stack = await startStack({ name: 'broker-restart', clickhouse: clickhouse.stackOption(), env: { KAFKA_BROKERS: broker.brokers.join(',') } });
  });
  afterAll(async () => {
    printScenarioTable('Kafka broker restarts', rows);
    await stack?.stop();
    await broker?.stop();
    await clickhouse?.stop();
  });

  it('a clean broker restart and a SIGKILL + restart mid-traffic: nothing lost, nothing counted twice', async (ctx) => {
    // KAFKA_BROKERS from outside: not our broker, so not ours to restart (startKafkaBroker makes restart a no-op).
    if (process.env.KAFKA_BROKERS?.trim()) ctx.skip();
    expect(stack.config.kafka.brokers).toEqual(broker.brokers);
    const traffic = faultTraffic(6101, IDS, EVENTS);
    const chunks = chunked(traffic.published, 100);
    const topic = stack.config.kafka.topics.sessions;
    const groupId = stack.config.kafka.groupId;
    const logs = await mkdtemp(join(tmpdir(), 'notai-broker-restart-'));
    // Re-sends a chunk whose send failed with a fresh producer until acknowledged.
    const publisher = leaderSafePublisher(stack.kafka, () => stack.config.kafka.topicPartitions);
    const publish = (events: typeof traffic.published) =>
      publisher.sendBatch({ topicMessages: [{ topic, messages: events.map((e) => ({ key: eventKey(e), value: JSON.stringify(e) })) }] });
    let child: ProjectorProcess | undefined;
    try {
      // After a long outage the worker may come back as a new member (its consumer restarted); the group
      // then waits for the old member's session to expire before it assigns partitions again. The
      // config's minimum (6 s) instead of the default 30 s keeps that wait short, and lets the SIGKILL
      // outage outlive the session, as in the regression above.
      const env = projectorEnv(stack, clickhouse.endpoint.url, groupId, { KAFKA_SESSION_TIMEOUT_MS: '6000' });
      child = await startProjectorProcess({ env, logFile: join(logs, 'projector.log') });
      await child.waitReady();

      // Two phases, one fault each; the read model is checked exact after each.
      const phases = [
        {
          name: 'broker clean restart',
          what: 'SIGTERM, start again',
          async fault(): Promise<void> {
            await broker.restart();
          },
        },
        {
          name: 'broker SIGKILL',
          what: 'SIGKILL, start again',
          async fault(): Promise<void> {
            broker.kill('SIGKILL');
            // A container broker has no pid; its restart() brings the killed container back.
            await eventually(() => broker.pid === undefined, { timeoutMs: 15_000, what: 'the broker to die' });
            await broker.restart();
          },
        },
      ];
      const perPhase = Math.ceil(chunks.length / phases.length);
      let sentSoFar = 0;
      for (const [p, phase] of phases.entries()) {
        const mine = chunks.slice(p * perPhase, (p + 1) * perPhase);
        const failedBefore = publisher.retriedSends();
        let fault: Promise<void> | undefined;
        let downFor = 0;
        let upAt = 0;
        let sendsDuringOutage = 0;
        let lagAtFault = 0;
        for (const [i, chunk] of mine.entries()) {
          // A send begun while the broker is away waits (kafkajs retries, then ours) until it is back.
          if (fault && upAt === 0) sendsDuringOutage += 1;
          await publish(chunk);
          if (i !== Math.floor(mine.length / 3)) continue;
          // Mid-traffic: the worker has made progress and still has a backlog when the broker goes.
          await eventually(() => committedTotal(stack.admin, groupId, topic), { until: (n) => n > 0, timeoutMs: 60_000, what: 'the worker to commit' });
          lagAtFault = await groupLag(stack.admin, groupId, topic);
          const downAt = performance.now();
          fault = phase.fault().then(() => {
            upAt = performance.now();
            downFor = upAt - downAt;
          });
          fault.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
        }
        await fault;
        const sent = mine.flat().length;
        sentSoFar += sent;
        const view = await waitDrained(stack, groupId, IDS, 120_000);
        const recoverMs = performance.now() - upAt;
        const expected = expectedView(traffic.published.slice(0, sentSoFar));
        const { lost, doubleCounted } = discrepancies(expected, view);
        const resent = publisher.retriedSends() - failedBefore;
        // Each join after the first: the worker came back into its group on its own (kafkajs re-join or consumer restart).
        const rejoins = (await child.tail(100_000)).split('\n').filter((line) => line.includes('joined consumer group')).length - 1;
        rows.push({
          scenario: phase.name,
          produced: sent,
          faults: `${phase.what} at lag ${lagAtFault}; back after ${(downFor / 1000).toFixed(1)} s; ${sendsDuringOutage} sends waited, ${resent} re-sent; rejoins so far: ${rejoins}`,
          lost,
          doubleCounted,
          recoverMs,
        });
        expect(sendsDuringOutage).toBeGreaterThan(0);
        expect(view).toEqual(expected);
        expect(lost).toBe(0);
        expect(doubleCounted).toBe(0);
      }
      // The process rode out both outages itself (its consumer may restart inside it): never exited, back in its group.
      expect(child.exitInfo()).toBeUndefined();
      await child.waitReady(30_000);
      expect(await child.stop()).toEqual({ code: 0, signal: null });
    } catch (error) {
      if (child) console.log(`--- projector log tail ---\n${await child.tail(80)}`);
      throw error;
    } finally {
      await publisher.stop();
      if (child && !child.exitInfo()) await child.stop(5_000);
      await rm(logs, { recursive: true, force: true });
    }
  });
});
