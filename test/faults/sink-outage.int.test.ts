import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../provision/redis-server.js';
import { liveProjector } from '../../services/generation-follower.js';
import type { ProjectorWorker } from '../../services/projector-worker.js';
import { eventually } from '../support/poll.js';
import { startStack, type TestStack } from '../support/stack.js';
import {
  chunked,
  discrepancies,
  expectedView,
  faultTraffic,
  printScenarioTable,
  sinkFailures,
  startHttpClickHouse,
  waitDrained,
  type HttpClickHouse,
  type ScenarioRow,
} from './fault-support.js';

/**
 * A sink going away mid-traffic stalls the projector, never skips a batch:
 * the batch in hand is held and retried (capped backoff) until the sink is
 * back, and nothing is lost or counted twice. The Redis here is this file's
 * own redis-server, so stopping it cannot disturb other suites.
 */

const EVENTS = 3_000;
/** Traffic rate: one chunk of 100 events every PACE_MS, so the outage starts and ends while events keep arriving. */
const PACE_MS = 1_000;
let redisServer: RedisServer;
let clickhouse: HttpClickHouse;
let stack: TestStack;
let worker: ProjectorWorker;
const rows: ScenarioRow[] = [];

interface Fault {
  sink: 'redis' | 'clickhouse';
  description: string;
  /** Minimum outage; it lasts at least until the projector has seen the sink fail. */
  holdMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
}

async function outageScenario(name: string, seed: number, ids: string[], fault: Fault): Promise<void> {
  const traffic = faultTraffic(seed, ids, EVENTS);
  const chunks = chunked(traffic.published, 100);
  const failuresBefore = await sinkFailures(stack.registry, fault.sink);
  let upAt = 0;
  const runOutage = async (): Promise<void> => {
    await fault.down();
    const downAt = performance.now();
    await eventually(() => sinkFailures(stack.registry, fault.sink), {
      until: (n) => n > failuresBefore,
      timeoutMs: 30_000,
      what: `the projector to see ${fault.sink} fail`,
    });
    // The outage duration is the fault's parameter, not a wait for an effect.
    const left = fault.holdMs - (performance.now() - downAt);
    if (left > 0) await delay(left);
    await fault.up();
    upAt = performance.now();
  };

  let outage: Promise<void> | undefined;
  let publishedDuringOutage = 0;
  for (const [i, chunk] of chunks.entries()) {
    await stack.publish(chunk);
    if (outage && upAt === 0) publishedDuringOutage += chunk.length;
    if (i === Math.floor(chunks.length / 3)) {
      outage = runOutage();
      outage.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
    }
    await delay(PACE_MS);
  }
  await outage;
  const view = await waitDrained(stack, stack.config.kafka.groupId, ids);
  const recoverMs = performance.now() - upAt;

  const expected = expectedView(traffic.events);
  const { lost, doubleCounted } = discrepancies(expected, view);
  const failures = (await sinkFailures(stack.registry, fault.sink)) - failuresBefore;
  rows.push({ scenario: name, produced: traffic.published.length, faults: `${fault.description}, ${failures} failed batch attempts`, lost, doubleCounted, recoverMs });
  expect(publishedDuringOutage).toBeGreaterThan(0);
  expect(failures).toBeGreaterThan(0);
  expect(view).toEqual(expected);
  expect(lost).toBe(0);
  expect(doubleCounted).toBe(0);
}

describe('sink outages under traffic (in-process projector worker)', () => {
  beforeAll(async () => {
    redisServer = await startRedisServer();
    clickhouse = await startHttpClickHouse();
    stack = await startStack({
      name: 'sink-outage',
      clickhouse: clickhouse.stackOption(),
      env: { REDIS_URL: redisServer.url, CLICKHOUSE_DRIVER: 'http', CLICKHOUSE_URL: clickhouse.endpoint.url, BATCH_MAX_ROWS: '200' },
    });
    worker = liveProjector(stack.config, { ...stack, now: Date.now }, { pollMs: 500 });
    await worker.start();
  });
  afterAll(async () => {
    printScenarioTable('sink outages', rows);
    await worker?.stop();
    await stack?.stop();
    await clickhouse?.stop();
    await redisServer?.stop();
  });

  it('Redis stopped for ~5 s mid-traffic and restarted on the same port: the held batches land once', async (ctx) => {
    // REDIS_URL set from outside: not our server, so not ours to stop.
    if (redisServer.pid === undefined) ctx.skip();
    let keysBefore = 0;
    await outageScenario('redis down ~20 s', 5201, ['int_out_rd_a', 'int_out_rd_b'], {
      sink: 'redis',
      description: 'redis-server stopped 20 s, restarted',
      holdMs: 20_000,
      async down() {
        // provision/redis-server.ts starts redis with `--save '' --appendonly no` and its API has no
        // persistence option: a restart would come back empty and the projection (counters, session
        // documents, watermarks) would be gone. A save point set at runtime makes the SIGTERM shutdown
        // write dump.rdb, which the restarted server (same --dir) loads: a clean stop, data kept.
        await stack.redis.call('CONFIG', 'SET', 'save', '3600 1');
        keysBefore = Number(await stack.redis.call('DBSIZE'));
        redisServer.kill('SIGTERM');
        await eventually(() => redisServer.pid === undefined, { timeoutMs: 15_000, what: 'redis-server to exit' });
      },
      async up() {
        await redisServer.restart();
        expect(Number(await stack.redis.call('DBSIZE'))).toBeGreaterThanOrEqual(keysBefore);
      },
    });
  });

  it('ClickHouse unreachable for a few seconds mid-traffic: batches are held, then projected exactly once', async () => {
    await outageScenario('clickhouse down ~20 s', 5202, ['int_out_ch_a', 'int_out_ch_b', 'int_out_ch_c'], {
      sink: 'clickhouse',
      description: 'HTTP endpoint dropping connections 20 s',
      holdMs: 20_000,
      down: async () => clickhouse.endpoint.setDown(true),
      up: async () => clickhouse.endpoint.setDown(false),
    });
  });
});
