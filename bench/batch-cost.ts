import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createBatchProjector } from '../projections/runtime/batch-projector.js';
import type { SourceMessage } from '../projections/runtime/messages.js';
import { sessionEventValues } from '../projections/session-events/session-events.projection.js';
import { evolveSession, type SessionState } from '../projections/sessions/session-state.js';
import { jsonCompactEachRowText, type ClickHouseGateway } from '../projections/store/clickhouse-gateway.js';
import { PROJECTIONS } from '../projections/store/generations.js';
import { projectionKeys } from '../projections/store/redis-keys.js';
import { startRedisServer } from '../provision/redis-server.js';
import { createEmbeddedGateway } from '../services/clickhouse/embedded-driver.js';
import { createHttpGateway } from '../services/clickhouse/http-driver.js';
import { migrate } from '../services/clickhouse/migrations.js';
import { createRedis } from '../services/redis.js';
import { decodeEvent, isSessionEvent } from '../schemas/events/decode.js';
import type { SessionEvent } from '../schemas/events/session-events.js';
import { createTrafficGenerator } from '../services/simulator/traffic.js';
import { startClickHouseHttpEndpoint } from '../test/support/clickhouse-http-endpoint.js';
import { buildBigIntegration } from './bulk.js';
import { statementKind } from './clickhouse-meter.js';
import { BIG_INTEGRATION } from './dataset.js';
import { log, task } from './progress.js';
import { alignedTable, machine, round } from './results.js';
import { percentile } from './stats.js';

/**
 * Where a batch's time goes, without Kafka. First the projector's CPU-only
 * steps per event (decode, fold, timeline rows and their encoding) against
 * JSON.parse of the same bytes. Then the batch projector runs in this
 * process on a real redis-server and the embedded engine, over the same
 * deterministic batches twice: once on the embedded driver, once on the HTTP
 * driver against the test endpoint (same engine, in this process). Per
 * statement kind it prints the mean and the share of the projector's wall
 * time; the difference between the two runs is what the HTTP path costs.
 *   node --import tsx bench/batch-cost.ts [--batches 30] [--size 4000] [--seed 11]
 *     [--big-sessions 1000000 --big-events 10000000] [--drivers embedded|http|both]
 * CPU is this whole process (projector, engine threads, endpoint), per event.
 * With --big-sessions, the batches are new sessions of the bench's big
 * integration, built first as `npm run bench` builds it (and merged): what a
 * batch costs against tables of that size, as in the freshness phase.
 */
const { values: args } = parseArgs({
  options: {
    batches: { type: 'string', default: '30' },
    size: { type: 'string', default: '4000' },
    seed: { type: 'string', default: '11' },
    'big-sessions': { type: 'string', default: '0' },
    'big-events': { type: 'string', default: '0' },
    drivers: { type: 'string', default: 'both' },
  },
});
const BATCHES = Number(args.batches);
const SIZE = Number(args.size);
const SEED = Number(args.seed);
const BIG_SESSIONS = Number(args['big-sessions']);
const BIG_EVENTS = Number(args['big-events']);
type Driver = 'embedded' | 'http';
const DRIVERS: readonly Driver[] | null = args.drivers === 'both' ? ['embedded', 'http'] : args.drivers === 'embedded' || args.drivers === 'http' ? [args.drivers] : null;
if (!(BATCHES > 0 && SIZE > 0 && Number.isInteger(SEED))) throw new Error('--batches and --size must be positive numbers, --seed an integer');
if (!(BIG_SESSIONS >= 0 && BIG_EVENTS >= 0) || (BIG_EVENTS > 0 && BIG_SESSIONS === 0)) throw new Error('--big-sessions and --big-events must be non-negative, and events need sessions');
if (!DRIVERS) throw new Error('--drivers must be embedded, http or both');

interface StatementTotals {
  count: number;
  ms: number;
}

/** The gateway with every statement timed by kind; inserts of one batch overlap, so their shares may sum past 100%. */
function timedGateway(inner: ClickHouseGateway, totals: Map<string, StatementTotals>): ClickHouseGateway {
  const timed = async <T>(kind: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const t = totals.get(kind) ?? { count: 0, ms: 0 };
      totals.set(kind, { count: t.count + 1, ms: t.ms + performance.now() - started });
    }
  };
  return {
    ...inner,
    query: (sql, params) => timed(statementKind(sql), () => inner.query(sql, params)),
    insert: (table, rows) => timed(`INSERT ${table}`, () => inner.insert(table, rows)),
    insertValues: (table, rows) => timed(`INSERT ${table}`, () => inner.insertValues(table, rows)),
  };
}

/** The same batches for both drivers: simulator traffic as the sessions topic would hold it, one partition. */
function buildBatches(): SourceMessage[][] {
  const integrationIds = BIG_SESSIONS > 0 ? [BIG_INTEGRATION] : ['int_cost_a', 'int_cost_b'];
  const traffic = createTrafficGenerator({ seed: SEED, integrationIds, startAt: new Date(Date.now() - 3 * 3_600_000), sessionsPerSecond: 50 }).messages();
  let offset = 0;
  return Array.from({ length: BATCHES }, () =>
    Array.from({ length: SIZE }, () => {
      const m = traffic.next().value!;
      return { topic: 'sessions', partition: 0, offset: String(offset++), key: Buffer.from(m.key), value: Buffer.from(m.value) };
    }),
  );
}

/**
 * The batch's steps that are the projector's CPU alone, per event over the same
 * messages (the median of seven passes), with JSON.parse of the same bytes as
 * this run's floor: decoding can only approach it. What these cost is what
 * bounds freshness, since a batch's size grows with the time spent on each event.
 */
function stepCosts(messages: readonly SourceMessage[]): { step: string; microsPerEvent: number }[] {
  const now = Date.now;
  const perEvent = (work: () => void): number => {
    const ms: number[] = [];
    for (let pass = 0; pass < 7; pass++) {
      const started = performance.now();
      work();
      ms.push(performance.now() - started);
    }
    return round((percentile(ms, 50) * 1000) / messages.length, 2);
  };
  const events: SessionEvent[] = [];
  const rows: unknown[][] = [];
  return [
    { step: 'JSON.parse (the floor)', microsPerEvent: perEvent(() => messages.forEach((m) => JSON.parse(m.value!.toString('utf8')))) },
    {
      step: 'decode and validate',
      microsPerEvent: perEvent(() => {
        events.length = 0;
        for (const m of messages) {
          const decoded = decodeEvent(m.value, { now, key: m.key?.toString('utf8') ?? null });
          if (decoded.ok && isSessionEvent(decoded.event)) events.push(decoded.event);
        }
      }),
    },
    {
      step: 'fold',
      microsPerEvent: perEvent(() => {
        const states = new Map<string, SessionState>();
        for (const e of events) states.set(e.sessionId, evolveSession(states.get(e.sessionId) ?? null, e));
      }),
    },
    {
      step: 'timeline rows',
      microsPerEvent: perEvent(() => {
        rows.length = 0;
        events.forEach((e, i) => rows.push(sessionEventValues(e, { partition: 0, offset: String(i) })));
      }),
    },
    // As both drivers encode the timeline's insert: one JSON text for all its rows.
    { step: 'timeline rows encoded', microsPerEvent: perEvent(() => jsonCompactEachRowText(rows)) },
  ];
}

interface DriverRun {
  eventsPerSecond: number;
  cpuMicrosPerEvent: number;
  statements: Record<string, { count: number; meanMs: number; shareOfWall: number }>;
}

async function runDriver(driver: Driver, batches: readonly SourceMessage[][], redisUrl: string, keyPrefix: string): Promise<DriverRun> {
  const dir = await mkdtemp(join(tmpdir(), `notai-batch-cost-${driver}-`));
  const endpoint = driver === 'http' ? await startClickHouseHttpEndpoint({ path: dir }) : null;
  const inner = endpoint ? createHttpGateway({ url: endpoint.url, username: 'default', password: '', database: 'default', requestTimeoutMs: 300_000 }) : createEmbeddedGateway({ path: dir });
  const redis = createRedis({ url: redisUrl, clusterNodes: undefined });
  const totals = new Map<string, StatementTotals>();
  try {
    const tables = await migrate(inner, 1, pino({ level: 'silent' }));
    if (BIG_SESSIONS > 0) {
      await buildBigIntegration(inner, { seed: SEED, sessions: BIG_SESSIONS, events: BIG_EVENTS, now: Date.now() });
      for (const table of [tables.sessions, tables.session_events]) await inner.command(`OPTIMIZE TABLE ${table} FINAL`);
    }
    const project = createBatchProjector(
      { tables, keys: projectionKeys(keyPrefix, 1), writes: new Set(PROJECTIONS) },
      { clickhouse: timedGateway(inner, totals), redis, publishDeadLetters: async () => undefined, now: Date.now },
    );
    const progress = task(`${driver} driver`, batches.length, 'batches');
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const [i, batch] of batches.entries()) {
      await project(batch);
      progress.update(i + 1);
    }
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    progress.done();
    const events = batches.length * SIZE;
    return {
      eventsPerSecond: round((events / wallMs) * 1000, 0),
      cpuMicrosPerEvent: round((cpu.user + cpu.system) / events, 0),
      statements: Object.fromEntries(
        [...totals]
          .filter(([kind]) => kind !== 'CREATE')
          .sort(([, a], [, b]) => b.ms - a.ms)
          .map(([kind, t]) => [kind, { count: t.count, meanMs: round(t.ms / t.count, 1), shareOfWall: round(t.ms / wallMs, 2) }]),
      ),
    };
  } finally {
    await redis.quit().catch(() => undefined);
    await inner.close();
    await endpoint?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const redisServer = await startRedisServer();
try {
  log(`batch cost: ${BATCHES} batches of ${SIZE} events, seed ${SEED}; ${JSON.stringify(machine())}`);
  const batches = buildBatches();
  const steps = stepCosts(batches.flat());
  process.stdout.write(`${alignedTable(['projector step (CPU only)', 'µs/event', 'vs JSON.parse'], steps.map(({ step, microsPerEvent }) => [step, String(microsPerEvent), `${round(microsPerEvent / steps[0]!.microsPerEvent, 2)}×`])).join('\n')}\n`);
  const runs: Partial<Record<Driver, DriverRun>> = {};
  for (const driver of DRIVERS) runs[driver] = await runDriver(driver, batches, redisServer.url, `cost-${driver}`);
  const { embedded, http } = runs;
  const kinds = [...new Set([...Object.keys(embedded?.statements ?? {}), ...Object.keys(http?.statements ?? {})])];
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? `${round(b / a, 2)}×` : '');
  const rows = [
    ['events/s', String(embedded?.eventsPerSecond ?? '-'), String(http?.eventsPerSecond ?? '-'), ratio(embedded?.eventsPerSecond, http?.eventsPerSecond)],
    ['process CPU µs/event', String(embedded?.cpuMicrosPerEvent ?? '-'), String(http?.cpuMicrosPerEvent ?? '-'), ratio(embedded?.cpuMicrosPerEvent, http?.cpuMicrosPerEvent)],
    ...kinds.map((kind) => {
      const e = embedded?.statements[kind];
      const h = http?.statements[kind];
      const cell = (s: typeof e) => (s ? `${s.meanMs} ms (${Math.round(s.shareOfWall * 100)}%)` : '-');
      return [kind, cell(e), cell(h), ratio(e?.meanMs, h?.meanMs)];
    }),
  ];
  process.stdout.write(`${alignedTable(['', 'embedded', 'http endpoint', 'ratio'], rows).join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ batches: BATCHES, size: SIZE, seed: SEED, bigSessions: BIG_SESSIONS, bigEvents: BIG_EVENTS, steps, embedded, http })}\n`);
} finally {
  await redisServer.stop();
}
