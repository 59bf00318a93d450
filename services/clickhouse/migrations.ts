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

/**
 * The column names a CREATE TABLE declares: one per line between its opening
 * parenthesis and ENGINE, as every definition here is written, skipping index
 * lines. Null for a view.
 */
export function declaredColumns(ddl: string): string[] | null {
  const body = /^\s*CREATE TABLE[^(]*\(\n([\s\S]*?)\n\s*\)\s*\n\s*ENGINE/.exec(ddl);
  if (!body?.[1]) return null;
  return body[1]
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^(INDEX|PROJECTION|CONSTRAINT)\s/.test(line))
    .map((line) => line.split(/\s/, 1)[0]!);
}

/**
 * A generation's table exists with other columns than this version declares:
 * CREATE … IF NOT EXISTS kept the old one, and writing or reading it would fail
 * row by row (or worse, half succeed). A projection's shape changes by rebuilding
 * it into a new generation, never in place.
 */
export class SchemaMismatchError extends Error {
  constructor(
    readonly table: string,
    readonly projection: ProjectionName,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
  ) {
    super(
      `table ${table} was created by another version: it lacks [${missing.join(', ')}] and has [${unexpected.join(', ')}]. ` +
        `Rebuild it into a new generation (npm run rebuild -- --projection ${projection}) or drop the old generation.`,
    );
    this.name = 'SchemaMismatchError';
  }
}

/**
 * Every table of these generations (of the `only` projections, if given) that
 * exists with other columns than its definition declares; tables not created
 * yet are fine. On a cluster the node-local tables are checked too: a
 * Distributed table is created `AS` its local one and would copy an old shape.
 */
export async function schemaMismatches(
  clickhouse: ClickHouseGateway,
  names: TableNames,
  options: { cluster?: string | undefined; only?: ReadonlySet<ProjectionName> | undefined } = {},
): Promise<SchemaMismatchError[]> {
  const declared = new Map<string, { projection: ProjectionName; columns: string[] }>();
  for (const table of TABLE_DEFINITIONS.filter((t) => !options.only || options.only.has(TABLE_OWNERS[t.key]))) {
    const columns = declaredColumns(table.create(names));
    if (!columns) continue;
    const expected = { projection: TABLE_OWNERS[table.key], columns };
    declared.set(names[table.key], expected);
    if (options.cluster) declared.set(`${names[table.key]}_local`, expected);
  }
  const rows = await clickhouse.query<{ table: string; name: string }>(
    'SELECT table, name FROM system.columns WHERE database = currentDatabase() AND table IN {tables:Array(String)}',
    { tables: [...declared.keys()] },
  );
  const mismatches: SchemaMismatchError[] = [];
  for (const [table, { projection, columns }] of declared) {
    const actual = new Set(rows.filter((r) => r.table === table).map((r) => r.name));
    if (actual.size === 0) continue;
    const missing = columns.filter((c) => !actual.has(c));
    const unexpected = [...actual].filter((c) => !columns.includes(c));
    if (missing.length > 0 || unexpected.length > 0) mismatches.push(new SchemaMismatchError(table, projection, missing, unexpected));
  }
  return mismatches;
}

/**
 * Checks that the tables of these generations (of the `only` projections, if
 * given) that exist have the columns this version declares, then creates those
 * that do not exist yet.
 */
export async function migrate(
  clickhouse: ClickHouseGateway,
  generations: number | Generations,
  logger: Logger,
  options: { cluster?: string | undefined; only?: ReadonlySet<ProjectionName> | undefined; onMismatch?: 'fail' | 'warn' } = {},
): Promise<TableNames> {
  const names = tableNames(generations);
  const started = performance.now();
  // Checked before creating anything: a view over an old table fails with a far less helpful message.
  const mismatches = await schemaMismatches(clickhouse, names, options);
  if (mismatches[0] && options.onMismatch !== 'warn') throw mismatches[0];
  for (const m of mismatches) logger.warn({ table: m.table, projection: m.projection, missing: m.missing, unexpected: m.unexpected }, m.message);
  // A statement naming a mismatched table is left out: the engine analyses a view's SELECT even when the view exists.
  const stale = mismatches.map((m) => new RegExp(`\\b${m.table}\\b`));
  for (const statement of schemaStatements(names, options)) {
    if (!stale.some((name) => name.test(statement))) await clickhouse.command(statement);
  }
  logger.info({ generations, cluster: options.cluster ?? null, tables: Object.values(names), ms: Math.round(performance.now() - started) }, 'schema is up to date');
  return names;
}
