import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/poll.js';
import { startProjectorProcess, type ProjectorProcess } from '../support/projector-process.js';
import {
  childProcessSuite,
  committedTotal,
  discrepancies,
  expectedView,
  faultTraffic,
  groupMembers,
  groupSettled,
  projectorEnv,
  publishAll,
  waitDrained,
} from './fault-support.js';

/**
 * A worker that stalls longer than its session timeout in the middle of a
 * batch (a frozen VM; here a real SIGSTOP) loses its partitions to another
 * member, which replays the batch from the last commit. When the stalled
 * worker wakes it must not finish that batch: its timeline insert would land
 * a second time, and the hourly view, fed by every insert, would count it
 * twice. It learns from the broker that the group moved on, abandons the
 * batch, and rejoins. One partition: a worker then has one batch in flight,
 * so nothing else of it is mid-write when it stops (a write already sent
 * when a worker stalls still lands; the fence stops the ones not begun).
 */

const EVENTS = 2_000;
const PARTITIONS = 1;
const SESSION_TIMEOUT_MS = '6000';
const IDS = ['int_fz_a', 'int_fz_b'];

/** Linux's view of a process: `T` once SIGSTOP has taken effect. */
async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
}

describe('a worker frozen mid-batch past its session timeout (projector child processes)', () => {
  const suite = childProcessSuite('frozen', 'frozen worker', PARTITIONS);

  it('wakes after its partitions moved and writes nothing more of its batch: exact totals', async () => {
    const { clickhouse, stack, rows } = suite;
    const topic = stack.config.kafka.topics.sessions;
    const groupId = stack.config.kafka.groupId;
    const traffic = faultTraffic(8301, IDS, EVENTS);
    await publishAll(stack, traffic.published);
    const logs = await mkdtemp(join(tmpdir(), 'notai-frozen-'));
    const workers: ProjectorProcess[] = [];
    const spawn = async (name: string, extra: Record<string, string> = {}): Promise<ProjectorProcess> => {
      const env = projectorEnv(stack, clickhouse.endpoint.url, groupId, { KAFKA_CLIENT_ID: name, KAFKA_SESSION_TIMEOUT_MS: SESSION_TIMEOUT_MS, BATCH_MAX_ROWS: '300', ...extra });
      const child = await startProjectorProcess({ env, logFile: join(logs, `${name}.log`) });
      workers.push(child);
      return child;
    };
    try {
      // Frozen right after the state rows of its third batch, before that batch's timeline and Redis writes.
      const frozen = await spawn('worker-1', { NOTAI_CRASH_AT: 'after-state-rows:3:SIGSTOP' });
      await eventually(() => processState(frozen.pid!), { until: (state) => state === 'T', timeoutMs: 60_000, intervalMs: 50, what: 'worker-1 to stop mid-batch' });
      const committedWhenFrozen = await committedTotal(stack.admin, groupId, topic);

      const successor = await spawn('worker-2');
      await successor.waitReady();
      await groupSettled(stack.admin, groupId, topic, PARTITIONS, ['worker-2'], "worker-1's session expired, worker-2 holds every partition", 60_000);
      const expected = expectedView(traffic.events);
      expect(await waitDrained(stack, groupId, IDS)).toEqual(expected);

      frozen.kill('SIGCONT');
      await eventually(() => groupMembers(stack.admin, groupId, topic), {
        until: (g) => g.state === 'Stable' && Object.keys(g.members).sort().join() === 'worker-1,worker-2',
        timeoutMs: 60_000,
        intervalMs: 200,
        what: 'worker-1 back in the group',
      });
      const log = await frozen.tail(100_000);
      expect(log).toContain('batch abandoned: the group moved on while it ran');
      // What worker-1 held when it stopped was written once, by worker-2, and stays that way.
      const view = await waitDrained(stack, groupId, IDS);
      const { lost, doubleCounted } = discrepancies(expected, view);
      rows.push({ scenario: 'SIGSTOP mid-batch, SIGCONT after the handover', produced: traffic.published.length, faults: `frozen with ${committedWhenFrozen} committed`, lost, doubleCounted, recoverMs: 0 });
      expect(view).toEqual(expected);
      expect(doubleCounted).toBe(0);
      expect(await frozen.stop()).toEqual({ code: 0, signal: null });
      expect(await successor.stop()).toEqual({ code: 0, signal: null });
    } catch (error) {
      for (const child of workers) console.log(`--- pid ${child.pid} log tail ---\n${await child.tail(60)}`);
      throw error;
    } finally {
      for (const child of workers) {
        if (child.exitInfo()) continue;
        child.kill('SIGCONT');
        await child.stop(5_000);
      }
      await rm(logs, { recursive: true, force: true });
    }
  });
});
