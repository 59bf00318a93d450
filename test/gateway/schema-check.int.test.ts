import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { tableNames } from '../../projections/store/table-set.js';
import { createEmbeddedGateway } from '../../services/clickhouse/embedded-driver.js';
import { migrate, schemaMismatches, SchemaMismatchError } from '../../services/clickhouse/migrations.js';
import { oldTimelineTable } from '../support/old-timeline.js';

const dir = await mkdtemp(join(tmpdir(), 'notai-schema-check-'));
const clickhouse = createEmbeddedGateway({ path: dir });
const logger = pino({ level: 'silent' });

afterAll(async () => {
  await clickhouse.close();
  await rm(dir, { recursive: true, force: true });
});

describe('migrate checks the columns of tables that already exist', () => {
  it('passes on tables it created itself, every time', async () => {
    await migrate(clickhouse, 3, logger);
    await expect(migrate(clickhouse, 3, logger)).resolves.toEqual(tableNames(3));
  });

  it('refuses a generation whose timeline table has the earlier one-row-per-entry shape, naming what differs', async () => {
    const old = tableNames(7).session_events;
    await clickhouse.command(oldTimelineTable(old));
    const error = await migrate(clickhouse, 7, logger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaMismatchError);
    const mismatch = error as SchemaMismatchError;
    expect(mismatch.table).toBe(old);
    expect(mismatch.missing).toEqual(['item_at', 'item_kind', 'item_page_url', 'item_attributes']);
    expect([...mismatch.unexpected].sort()).toEqual(['attributes', 'kind', 'occurred_at', 'page_url', 'seq']);
    expect(mismatch.projection).toBe('session-events');
    expect(mismatch.message).toContain('npm run rebuild -- --projection session-events');
  });

  it('only warns when asked to (a rebuild starts while the serving tables are old)', async () => {
    const warnings: string[] = [];
    const recording = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    // The hourly view over the old table is left out (the engine would reject its SELECT); the other tables are made.
    await expect(migrate(clickhouse, 7, recording, { onMismatch: 'warn' })).resolves.toEqual(tableNames(7));
    const made = await clickhouse.query<{ name: string }>('SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)} ORDER BY name', {
      names: Object.values(tableNames(7)),
    });
    expect(made.map((t) => t.name)).toEqual(Object.values(tableNames(7)).filter((n) => n !== tableNames(7).events_hourly_mv).sort());
    expect(warnings.some((w) => w.includes(tableNames(7).session_events) && w.includes('item_kind'))).toBe(true);
  });

  it('reports every mismatched table, leaves out the projections not asked about, and on a cluster checks the node-local tables', async () => {
    const names = tableNames(8);
    await clickhouse.command(oldTimelineTable(names.session_events));
    await clickhouse.command(`CREATE TABLE ${names.user_sessions} (integration_id String, user_id String) ENGINE = MergeTree ORDER BY integration_id`);
    const all = await schemaMismatches(clickhouse, names);
    expect(all.map((m) => [m.table, m.projection])).toEqual([
      [names.session_events, 'session-events'],
      [names.user_sessions, 'users'],
    ]);
    // What a rebuild of session-events checks before replaying: the tables it keeps serving.
    const kept = await schemaMismatches(clickhouse, names, { only: new Set(['sessions', 'analytics', 'users', 'courses']) });
    expect(kept.map((m) => m.table)).toEqual([names.user_sessions]);
    // A Distributed table is created AS its local table: an old local one must not pass for "not created yet".
    const local = tableNames(9);
    await clickhouse.command(oldTimelineTable(`${local.session_events}_local`));
    const clustered = await schemaMismatches(clickhouse, local, { cluster: 'notai' });
    expect(clustered.map((m) => m.table)).toEqual([`${local.session_events}_local`]);
    expect(await schemaMismatches(clickhouse, local)).toEqual([]);
  });
});
