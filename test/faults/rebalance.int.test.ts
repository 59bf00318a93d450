import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/poll.js';
import { startProjectorProcess, type ProjectorProcess } from '../support/projector-process.js';
import {
  childProcessSuite,
  chunked,
  committedTotal,
  discrepancies,
  expectedView,
  faultTraffic,
  groupSettled,
  projectorEnv,
  scrapeMetric,
  waitDrained,
} from './fault-support.js';

/**
 * Consumer-group rebalances under traffic, with real child processes: one
 * worker, then two more join (partitions move to them), then one leaves
 * cleanly (SIGTERM) and one dies (SIGKILL; its partitions move once its
 * session expires). Partitions change hands mid-batch several times; the
 * read model must still count every event exactly once.
 */

const EVENTS = 5_000;
const PARTITIONS = 6;
/** Traffic rate: CHUNK events every PACE_MS, so every rebalance happens while events keep arriving. */
const CHUNK = 25;
const PACE_MS = 80;
/** Chunks held back until the last rebalance is over, so traffic also flows after it. */
const RESERVE = 20;
/** A killed member's partitions move after this long (the config's minimum). */
const SESSION_TIMEOUT_MS = '6000';
const IDS = ['int_rb_a', 'int_rb_b', 'int_rb_c'];

describe('consumer-group rebalances under traffic (projector child processes)', () => {
  const suite = childProcessSuite('rebalance', 'consumer-group rebalances', PARTITIONS);

  it('2 workers join, 1 leaves on SIGTERM, 1 is SIGKILLed, all while publishing: exact totals', async () => {
    const { clickhouse, stack, rows } = suite;
    const topic = stack.config.kafka.topics.sessions;
    const groupId = stack.config.kafka.groupId;
    const traffic = faultTraffic(7201, IDS, EVENTS);
    const chunks = chunked(traffic.published, CHUNK);
    const logs = await mkdtemp(join(tmpdir(), 'notai-rebalance-'));
    const workers = new Map<string, ProjectorProcess>();
    const spawn = async (name: string): Promise<ProjectorProcess> => {
      // One client id per worker: the group's member list then says who holds what.
      const env = projectorEnv(stack, clickhouse.endpoint.url, groupId, { KAFKA_CLIENT_ID: name, KAFKA_SESSION_TIMEOUT_MS: SESSION_TIMEOUT_MS });
      const child = await startProjectorProcess({ env, logFile: join(logs, `${name}.log`) });
      workers.set(name, child);
      return child;
    };
    const groupIs = (names: string[], what: string) => groupSettled(stack.admin, groupId, topic, PARTITIONS, names, what, 60_000);

    let sent = 0;
    let rebalancesOver = false;
    const publishing = (async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (!rebalancesOver && chunks.length - i <= RESERVE) {
          await eventually(() => rebalancesOver, { timeoutMs: 120_000, intervalMs: 50, what: 'the rebalances to be over' });
        }
        await stack.publish(chunk);
        sent += chunk.length;
        // The traffic's rate, not a wait for an effect.
        await delay(PACE_MS);
      }
    })();
    publishing.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"

    const steps: string[] = [];
    /** Runs one change of membership while traffic flows; notes how much was published meanwhile. */
    const step = async (what: string, body: () => Promise<void>): Promise<void> => {
      const before = sent;
      await body();
      steps.push(`${what} (+${sent - before} published)`);
    };
    let killedAt = 0;
    try {
      const first = await spawn('worker-1');
      await first.waitReady();
      await groupIs(['worker-1'], 'worker-1 alone in the group');
      await eventually(() => committedTotal(stack.admin, groupId, topic), { until: (n) => n > 0, timeoutMs: 60_000, what: 'worker-1 to commit' });

      await step('+2 workers', async () => {
        const joined = await Promise.all([spawn('worker-2'), spawn('worker-3')]);
        await groupIs(['worker-1', 'worker-2', 'worker-3'], 'three workers sharing the partitions');
        // The moved partitions are really worked on by their new owners.
        for (const child of joined) {
          await eventually(() => scrapeMetric(child.port, 'projector_events_projected_total'), { until: (n) => n > 0, timeoutMs: 60_000, what: 'a new worker to project' });
        }
      });
      await step('SIGTERM worker-2', async () => {
        expect(await workers.get('worker-2')!.stop(30_000)).toEqual({ code: 0, signal: null });
        await groupIs(['worker-1', 'worker-3'], 'worker-2 gone from the group');
      });
      await step('SIGKILL worker-3', async () => {
        const victim = workers.get('worker-3')!;
        victim.kill('SIGKILL');
        killedAt = performance.now();
        expect((await victim.exited).signal).toBe('SIGKILL');
        await groupIs(['worker-1'], "worker-3's partitions back with worker-1");
      });
      rebalancesOver = true;
      await publishing;

      const view = await waitDrained(stack, groupId, IDS);
      const recoverMs = performance.now() - killedAt;
      // Every join of worker-1 is one rebalance it took part in (the first is its own start).
      const joins = (await first.tail(100_000)).split('\n').filter((line) => line.includes('joined consumer group')).length;
      const expected = expectedView(traffic.events);
      const { lost, doubleCounted } = discrepancies(expected, view);
      rows.push({ scenario: 'join, leave, kill', produced: traffic.published.length, faults: `${steps.join(', ')}; ${joins - 1} rebalances`, lost, doubleCounted, recoverMs });
      expect(joins).toBeGreaterThanOrEqual(4);
      expect(sent).toBe(traffic.published.length);
      expect(view).toEqual(expected);
      expect(lost).toBe(0);
      expect(doubleCounted).toBe(0);
      expect(await first.stop()).toEqual({ code: 0, signal: null });
    } catch (error) {
      for (const [name, child] of workers) console.log(`--- ${name} (pid ${child.pid}) log tail ---\n${await child.tail(60)}`);
      throw error;
    } finally {
      rebalancesOver = true;
      await publishing.catch(() => undefined);
      for (const child of workers.values()) if (!child.exitInfo()) await child.stop(5_000);
      await rm(logs, { recursive: true, force: true });
    }
  });
});
