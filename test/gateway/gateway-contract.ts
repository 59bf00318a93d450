/**
 * What every ClickHouseGateway driver must do, as one suite registered per
 * driver. Each test asserts exact values and also records what it saw, so the
 * caller can check that all drivers saw the same (the drivers exist to be
 * interchangeable; a difference is a bug in one of them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseError, type ClickHouseGateway, type QueryParams, type Row } from '../../projections/store/clickhouse-gateway.js';
import { PARAM_CASES } from './gateway-param-cases.js';

export interface GatewayUnderTest {
  gateway: ClickHouseGateway;
  /** Makes the engine unreachable and back; only a locally served HTTP endpoint can. */
  setDown?: ((down: boolean) => void) | undefined;
  close(): Promise<void>;
}

export interface ContractOptions {
  label: string;
  open(): Promise<GatewayUnderTest>;
  /** Known when tests are collected, so the fault tests are skipped rather than silently passing. */
  canGoDown: boolean;
  /** Filled with every observed result, keyed by what was asked. */
  observations: Map<string, unknown>;
}

interface Failure {
  isGatewayError: boolean;
  code: number | undefined;
  retriable: boolean | undefined;
}

async function failureOf(work: () => Promise<unknown>): Promise<Failure> {
  try {
    await work();
  } catch (error) {
    const e = error as Partial<ClickHouseError>;
    return { isGatewayError: error instanceof ClickHouseError, code: e.code, retriable: e.retriable };
  }
  throw new Error('expected the call to fail');
}

export function describeGatewayContract(options: ContractOptions): void {
  const { observations } = options;
  // Unique names keep runs apart on a shared server (CLICKHOUSE_URL); locally each suite has its own engine anyway.
  const ns = `gw_${options.label}_${Date.now().toString(36)}`;
  const table = (name: string): string => `${ns}_${name}`;
  const observe = <T>(key: string, value: T): T => {
    observations.set(key, value);
    return value;
  };

  describe(`ClickHouseGateway contract (${options.label})`, () => {
    let sut: GatewayUnderTest | undefined;
    const gw = (): ClickHouseGateway => {
      if (!sut) throw new Error('gateway not opened');
      return sut.gateway;
    };
    const query = async (key: string, sql: string, params?: QueryParams): Promise<Row[]> => observe(key, await gw().query(sql, params));

    beforeAll(async () => {
      sut = await options.open();
    });

    afterAll(async () => {
      if (!sut) return;
      for (const name of ['daily_mv', 'daily', 'raw_events', 'latest', 'events', 'positional', 'json_text', 'ddl']) {
        await sut.gateway.command(`DROP TABLE IF EXISTS ${table(name)}`).catch(() => undefined);
      }
      await sut.close();
    });

    it('answers ping', async () => {
      expect(await gw().ping()).toBe(true);
    });

    it.each(PARAM_CASES)('binds $name', async ({ name, sql, params, expected }) => {
      expect(await query(`param:${name}`, sql, params)).toEqual([expected]);
    });

    it('binds a 3000-element Array(String) (a URL far past the usual 16 KiB)', async () => {
      const ids = Array.from({ length: 3000 }, (_, i) => `session-${i}-'q'`);
      const rows = await query('param:long-array', 'SELECT length({ids:Array(String)}) AS n, {ids:Array(String)}[3000] AS last', { ids });
      expect(rows).toEqual([{ n: 3000, last: "session-2999-'q'" }]);
    });

    it('runs with the session settings: UTC, ISO timestamps, 64-bit integers as numbers', async () => {
      const rows = await query(
        'settings',
        `SELECT timezone() AS tz, toDateTime('2026-11-02 14:03:11') AS dt, toDateTime64('2026-11-02 14:03:11.12', 3) AS dt64,
                toUInt64(9007199254740991) AS u64, toInt64(-42) AS i64, getSetting('date_time_input_format') AS input`,
      );
      expect(rows).toEqual([{ tz: 'UTC', dt: '2026-11-02T14:03:11Z', dt64: '2026-11-02T14:03:11.120Z', u64: 9007199254740991, i64: -42, input: 'best_effort' }]);
    });

    it('creates tables idempotently', async () => {
      const ddl = `CREATE TABLE IF NOT EXISTS ${table('ddl')} (id String) ENGINE = MergeTree ORDER BY id`;
      await gw().command(ddl);
      await gw().command(ddl);
      expect(observe('ddl:twice', await failureOf(() => gw().command(ddl.replace(' IF NOT EXISTS', ''))))).toEqual({
        isGatewayError: true,
        code: 57, // TABLE_ALREADY_EXISTS
        retriable: false,
      });
      await gw().command(`DROP TABLE IF EXISTS ${table('ddl')}`);
      await gw().command(`DROP TABLE IF EXISTS ${table('ddl')}`);
    });

    it('inserts JSONEachRow rows and reads them back, DateTime64 as ISO', async () => {
      await gw().command(
        `CREATE TABLE IF NOT EXISTS ${table('events')} (
           occurred_at DateTime64(3, 'UTC'), event_id String, seq UInt16, kind LowCardinality(String),
           user_id Nullable(String), flags Array(String), score Float64, is_bot Bool, src_offset UInt64
         ) ENGINE = MergeTree ORDER BY (occurred_at, event_id, seq)`,
      );
      await gw().insert(table('events'), []);
      await gw().insert(table('events'), [
        { occurred_at: '2026-11-02T14:03:11.120Z', event_id: 'e1', seq: 0, kind: 'start', user_id: null, flags: [], score: 0.25, is_bot: false, src_offset: 9007199254740991 },
        { occurred_at: '2026-11-02T14:03:11Z', event_id: "e'2\\", seq: 1, kind: 'click', user_id: 'ü 😀', flags: ['a', "b'c"], score: -1.5, is_bot: true, src_offset: 7 },
        { occurred_at: '2026-11-02 14:03:12.5', event_id: 'e3', seq: 2, kind: 'click', user_id: 'u3', flags: ['x'], score: 1e-7, is_bot: false, src_offset: 0 },
      ]);
      const rows = await query('insert:readback', `SELECT * FROM ${table('events')} ORDER BY occurred_at, event_id, seq`);
      expect(rows).toEqual([
        { occurred_at: '2026-11-02T14:03:11.000Z', event_id: "e'2\\", seq: 1, kind: 'click', user_id: 'ü 😀', flags: ['a', "b'c"], score: -1.5, is_bot: true, src_offset: 7 },
        { occurred_at: '2026-11-02T14:03:11.120Z', event_id: 'e1', seq: 0, kind: 'start', user_id: null, flags: [], score: 0.25, is_bot: false, src_offset: 9007199254740991 },
        { occurred_at: '2026-11-02T14:03:12.500Z', event_id: 'e3', seq: 2, kind: 'click', user_id: 'u3', flags: ['x'], score: 1e-7, is_bot: false, src_offset: 0 },
      ]);
    });

    it('inserts positional rows (JSONCompactEachRow) into named columns, the rest taking their defaults', async () => {
      await gw().command(
        `CREATE TABLE IF NOT EXISTS ${table('positional')} (
           occurred_at DateTime64(3, 'UTC'), event_id String, seq UInt16, note String DEFAULT 'none', src_offset UInt64
         ) ENGINE = MergeTree ORDER BY (occurred_at, event_id, seq)`,
      );
      const columns = ['event_id', 'occurred_at', 'seq', 'src_offset'];
      await gw().insertValues(table('positional'), { columns, values: [] });
      await gw().insertValues(table('positional'), {
        columns,
        values: [
          ["e'1\\", '2026-11-02T14:03:11.120Z', 0, '9007199254740991'],
          ['ü 😀', '2026-11-02 14:03:12.5', 1, 7],
        ],
      });
      expect(await query('positional:readback', `SELECT * FROM ${table('positional')} ORDER BY occurred_at`)).toEqual([
        { occurred_at: '2026-11-02T14:03:11.120Z', event_id: "e'1\\", seq: 0, note: 'none', src_offset: 9007199254740991 },
        { occurred_at: '2026-11-02T14:03:12.500Z', event_id: 'ü 😀', seq: 1, note: 'none', src_offset: 7 },
      ]);
    });

    it('stores a JSON object given for a String or Array(String) column as its JSON text, in both insert forms', async () => {
      await gw().command(`CREATE TABLE IF NOT EXISTS ${table('json_text')} (id UInt8, doc String, docs Array(String)) ENGINE = MergeTree ORDER BY id`);
      // Quotes, escapes, a lone surrogate, non-ASCII and nesting: the stored text must be exactly what JSON.stringify writes.
      const doc = { q: 'a "quoted" \\ back\nslash', lone: '\ud800', text: 'ü 😀', nested: { list: [1, null, { deep: true }], n: -1.5e-7 } };
      const docs = [{}, { k: 'v' }, doc];
      await gw().insert(table('json_text'), [{ id: 1, doc, docs }]);
      await gw().insertValues(table('json_text'), { columns: ['id', 'doc', 'docs'], values: [[2, doc, docs], [3, 'plain text', ['x']]] });
      const rows = await query('json-text:readback', `SELECT id, doc, docs FROM ${table('json_text')} ORDER BY id`);
      const asText = { doc: JSON.stringify(doc), docs: docs.map((d) => JSON.stringify(d)) };
      expect(rows).toEqual([
        { id: 1, ...asText },
        { id: 2, ...asText },
        { id: 3, doc: 'plain text', docs: ['x'] },
      ]);
    });

    it('pages with a tuple cursor and filters with IN arrays', async () => {
      const rows = await query(
        'cursor',
        `SELECT event_id FROM ${table('events')}
         WHERE (occurred_at, event_id) < ({afterAt:DateTime64(3, 'UTC')}, {afterEventId:String})
           AND kind IN {kinds:Array(String)}
         ORDER BY occurred_at DESC, event_id DESC LIMIT {limit:UInt32}`,
        { afterAt: new Date('2026-11-02T14:03:12.500Z'), afterEventId: 'e3', kinds: ['click', 'start'], limit: 10 },
      );
      expect(rows).toEqual([{ event_id: 'e1' }, { event_id: "e'2\\" }]);
    });

    it('runs parameterised commands', async () => {
      await gw().command(
        `INSERT INTO ${table('events')} (occurred_at, event_id, seq, kind, score, is_bot, src_offset)
         SELECT {at:DateTime64(3, 'UTC')}, {id:String}, 3, 'end', 0, false, {offset:UInt64}`,
        { at: new Date('2026-11-02T15:00:00.000Z'), id: 'e4', offset: 12 },
      );
      const rows = await query('command:params', `SELECT occurred_at, src_offset FROM ${table('events')} WHERE event_id = {id:String}`, { id: 'e4' });
      expect(rows).toEqual([{ occurred_at: '2026-11-02T15:00:00.000Z', src_offset: 12 }]);
      expect(await query('empty', `SELECT event_id FROM ${table('events')} WHERE event_id = 'none'`)).toEqual([]);
    });

    it('collapses versions with ReplacingMergeTree FINAL', async () => {
      await gw().command(
        `CREATE TABLE IF NOT EXISTS ${table('latest')} (id String, version UInt64, status LowCardinality(String))
         ENGINE = ReplacingMergeTree(version) ORDER BY id`,
      );
      // Separate inserts make separate parts, so only FINAL can collapse them.
      await gw().insert(table('latest'), [{ id: 'a', version: 1, status: 'open' }, { id: 'b', version: 1, status: 'open' }]);
      await gw().insert(table('latest'), [{ id: 'a', version: 3, status: 'closed' }]);
      await gw().insert(table('latest'), [{ id: 'a', version: 2, status: 'reopened' }]);
      const rows = await query('final', `SELECT id, version, status FROM ${table('latest')} FINAL ORDER BY id`);
      expect(rows).toEqual([{ id: 'a', version: 3, status: 'closed' }, { id: 'b', version: 1, status: 'open' }]);
    });

    it('feeds an AggregatingMergeTree through a materialized view', async () => {
      await gw().command(`CREATE TABLE IF NOT EXISTS ${table('raw_events')} (at DateTime64(3, 'UTC'), user String, score Float64) ENGINE = MergeTree ORDER BY at`);
      await gw().command(
        `CREATE TABLE IF NOT EXISTS ${table('daily')} (
           day Date, events AggregateFunction(count), users AggregateFunction(uniqExact, String), top SimpleAggregateFunction(max, Float64)
         ) ENGINE = AggregatingMergeTree ORDER BY day`,
      );
      await gw().command(
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${table('daily_mv')} TO ${table('daily')} AS
         SELECT toDate(at) AS day, countState() AS events, uniqExactState(user) AS users, max(score) AS top
         FROM ${table('raw_events')} GROUP BY day`,
      );
      await gw().insert(table('raw_events'), [
        { at: '2026-11-02T23:59:59.999Z', user: 'u1', score: 0.5 },
        { at: '2026-11-02T10:00:00Z', user: 'u2', score: 0.9 },
      ]);
      await gw().insert(table('raw_events'), [
        { at: '2026-11-02T11:00:00Z', user: 'u1', score: 0.1 },
        { at: '2026-11-03T00:00:00Z', user: 'u3', score: 0.7 },
      ]);
      const rows = await query(
        'aggregating',
        `SELECT day, countMerge(events) AS events, uniqExactMerge(users) AS users, max(top) AS top
         FROM ${table('daily')} GROUP BY day ORDER BY day`,
      );
      expect(rows).toEqual([
        { day: '2026-11-02', events: 3, users: 2, top: 0.9 },
        { day: '2026-11-03', events: 1, users: 1, top: 0.7 },
      ]);
    });

    it('raises ClickHouseError with the engine code, not retriable, for bad SQL', async () => {
      const cases: Array<[string, () => Promise<unknown>, number]> = [
        ['syntax', () => gw().query('SELEC 1'), 62],
        ['unknown table', () => gw().query(`SELECT * FROM ${table('missing')}`), 60],
        ['unknown table (insert)', () => gw().insert(table('missing'), [{ id: 1 }]), 60],
        ['unknown table (positional insert)', () => gw().insertValues(table('missing'), { columns: ['id'], values: [[1]] }), 60],
        ['unknown table (command)', () => gw().command(`DROP TABLE ${table('missing')}`), 60],
        ['unbound parameter', () => gw().query('SELECT {x:String} AS x'), 456],
      ];
      for (const [name, work, code] of cases) {
        expect(observe(`error:${name}`, await failureOf(work)), name).toEqual({ isGatewayError: true, code, retriable: false });
      }
    });

    it.skipIf(!options.canGoDown)('reports an unreachable engine as retriable, then recovers', async () => {
      const setDown = sut?.setDown;
      if (!setDown) throw new Error('this gateway cannot be taken down');
      setDown(true);
      try {
        const failure = await failureOf(() => gw().query('SELECT 1 AS x'));
        expect(failure.isGatewayError).toBe(true);
        expect(failure.retriable).toBe(true);
        expect(await gw().ping()).toBe(false);
      } finally {
        setDown(false);
      }
      expect(await gw().ping()).toBe(true);
      expect(await gw().query('SELECT 1 AS x')).toEqual([{ x: 1 }]);
    });
  });
}
