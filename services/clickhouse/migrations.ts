import { TABLE_DEFINITIONS } from '../../projections/store/schema.js';
import type { Generations, ProjectionName } from '../../projections/store/generations.js';
import { TABLE_OWNERS, TABLES, tableNames, type TableKey, type TableNames } from '../../projections/store/table-set.js';
import type { ClickHouseGateway } from '../../projections/store/clickhouse-gateway.js';
import type { Logger } from '../logger.js';

/**
 * The DDL of one generation, in order. Every statement is IF NOT EXISTS, so
 * running it again is a no-op.
 *
 * With a cluster name, each table becomes a Replicated*MergeTree `<name>_local`
 * on every node (ON CLUSTER) plus a Distributed `<name>` over them, sharded so
 * one session's rows share a shard; materialized views run shard-locally. The
 * code reads and writes the Distributed names, the same names as on one node.
 */
export function schemaStatements(names: TableNames, options: { cluster?: string | undefined; only?: ReadonlySet<ProjectionName> | undefined } = {}): string[] {
  const { cluster, only } = options;
  const definitions = TABLE_DEFINITIONS.filter((t) => !only || only.has(TABLE_OWNERS[t.key]));
  if (!cluster) return definitions.map((t) => t.create(names).trim());
  const local = Object.fromEntries(TABLES.map((k) => [k, `${names[k]}_local`])) as Record<TableKey, string>;
  const statements: string[] = [];
  for (const table of definitions) {
    const ddl = table.create(local).trim();
    const name = local[table.key];
    statements.push(onCluster(ddl, name, cluster));
    if (table.shardBy) {
      statements.push(
        `CREATE TABLE IF NOT EXISTS ${names[table.key]} ON CLUSTER ${cluster} AS ${name}\n    ENGINE = Distributed(${cluster}, currentDatabase(), ${name}, ${table.shardBy})`,
      );
    }
  }
  return statements;
}

/** Adds ON CLUSTER and turns `XMergeTree(args)` into `ReplicatedXMergeTree(path, replica, args)`. */
function onCluster(ddl: string, name: string, cluster: string): string {
  const withCluster = ddl.replace(new RegExp(`^(CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS ${name})\\b`), `$1 ON CLUSTER ${cluster}`);
  return withCluster.replace(/ENGINE = (\w*MergeTree)(?:\(([^)]*(?:\([^)]*\))?[^)]*)\))?/, (_m, engine: string, args: string | undefined) => {
    const replication = `'/clickhouse/tables/{shard}/{database}/${name}', '{replica}'`;
    return `ENGINE = Replicated${engine}(${args && args.trim() ? `${replication}, ${args}` : replication})`;
  });
}

/** DROP statements for some tables of a set of generations, views first, for rebuilds that start over or hand off. */
export function dropStatements(generations: number | Generations, options: { cluster?: string | undefined; tables?: readonly TableKey[] } = {}): string[] {
  const names = tableNames(generations);
  const { cluster, tables } = options;
  const order = [...TABLES].reverse().filter((k) => !tables || tables.includes(k));
  if (!cluster) return order.map((k) => `DROP TABLE IF EXISTS ${names[k]}`);
  return order.flatMap((k) => [`DROP TABLE IF EXISTS ${names[k]} ON CLUSTER ${cluster} SYNC`, `DROP TABLE IF EXISTS ${names[k]}_local ON CLUSTER ${cluster} SYNC`]);
}

/** Creates the tables of these generations (of the `only` projections, if given) that do not exist yet. */
export async function migrate(
  clickhouse: ClickHouseGateway,
  generations: number | Generations,
  logger: Logger,
  options: { cluster?: string | undefined; only?: ReadonlySet<ProjectionName> | undefined } = {},
): Promise<TableNames> {
  const names = tableNames(generations);
  const started = performance.now();
  for (const statement of schemaStatements(names, options)) await clickhouse.command(statement);
  logger.info({ generations, cluster: options.cluster ?? null, tables: Object.values(names), ms: Math.round(performance.now() - started) }, 'schema is up to date');
  return names;
}
