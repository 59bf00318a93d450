import { describe, expect, it } from 'vitest';
import { TABLE_DEFINITIONS } from '../../projections/store/schema.js';
import { tableNames } from '../../projections/store/table-set.js';
import { SESSION_EVENT_COLUMNS } from '../../projections/session-events/session-events.projection.js';
import { declaredColumns, dropStatements, schemaStatements } from '../../services/clickhouse/migrations.js';

const names = tableNames(2);
const clustered = schemaStatements(names, { cluster: 'notai' });
const single = schemaStatements(names);

describe('ClickHouse DDL', () => {
  it('one node: plain engines, no ON CLUSTER, one statement per definition', () => {
    expect(single).toHaveLength(TABLE_DEFINITIONS.length);
    for (const s of single) {
      expect(s).not.toMatch(/ON CLUSTER|Replicated|Distributed/);
      expect(s).toMatch(/^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS \w+_g2\b/);
    }
  });

  it('cluster: every statement runs ON CLUSTER', () => {
    for (const s of clustered) expect(s).toContain('ON CLUSTER notai');
  });

  it('cluster: each table is a Replicated engine on <name>_local with its original engine arguments', () => {
    for (const table of TABLE_DEFINITIONS.filter((t) => t.shardBy)) {
      const local = clustered.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${names[table.key]}_local ON CLUSTER notai`));
      expect(local, table.key).toBeDefined();
      const engine = /ENGINE = (\w+)\((.*)\)/.exec(local!)!;
      expect(engine[1]).toMatch(/^Replicated\w*MergeTree$/);
      expect(engine[2]).toContain(`'/clickhouse/tables/{shard}/{database}/${names[table.key]}_local', '{replica}'`);
      const original = /ENGINE = \w+(\((.*)\))?/.exec(table.create(names))!;
      if (original[2]) expect(engine[2]).toContain(original[2]);
    }
  });

  it('cluster: each table has a Distributed table under its own name, sharded so a session stays on one shard', () => {
    for (const table of TABLE_DEFINITIONS.filter((t) => t.shardBy)) {
      const distributed = clustered.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ${names[table.key]} ON CLUSTER notai AS ${names[table.key]}_local`));
      expect(distributed, table.key).toContain(`ENGINE = Distributed(notai, currentDatabase(), ${names[table.key]}_local, ${table.shardBy})`);
    }
    expect(TABLE_DEFINITIONS.find((t) => t.key === 'sessions')!.shardBy).toBe('cityHash64(integration_id, session_id)');
  });

  it('cluster: the materialized view reads and writes shard-local tables', () => {
    const view = clustered.find((s) => s.includes('MATERIALIZED VIEW'))!;
    expect(view).toContain(`TO ${names.events_hourly}_local`);
    expect(view).toContain(`FROM ${names.session_events}_local`);
    expect(view).not.toContain('Replicated');
  });

  it('drops views before their tables, locals and distributed alike on a cluster', () => {
    expect(dropStatements(2)[0]).toBe(`DROP TABLE IF EXISTS ${names.course_sessions}`);
    const onCluster = dropStatements(2, { cluster: 'notai' });
    expect(onCluster).toContain(`DROP TABLE IF EXISTS ${names.sessions}_local ON CLUSTER notai SYNC`);
    expect(onCluster.indexOf(`DROP TABLE IF EXISTS ${names.events_hourly_mv} ON CLUSTER notai SYNC`)).toBeLessThan(
      onCluster.indexOf(`DROP TABLE IF EXISTS ${names.session_events} ON CLUSTER notai SYNC`),
    );
  });
});

describe('declared columns', () => {
  it('reads every table definition\'s column list, and none of a view', () => {
    for (const table of TABLE_DEFINITIONS) {
      const columns = declaredColumns(table.create(names));
      if (table.key.endsWith('_mv')) expect(columns, table.key).toBeNull();
      else {
        expect(columns?.length, table.key).toBeGreaterThan(3);
        for (const column of columns!) expect(column, table.key).toMatch(/^[a-z][a-z0-9_]*$/);
      }
    }
  });

  it('the timeline table declares exactly the columns the projector writes, in its order', () => {
    const table = TABLE_DEFINITIONS.find((t) => t.key === 'session_events')!;
    expect(declaredColumns(table.create(names))).toEqual([...SESSION_EVENT_COLUMNS]);
  });
});
