import { TABLE_DEFINITIONS } from '../../projections/store/schema.js';
import { tableNames, type TableNames } from '../../projections/store/table-set.js';
import type { ClickHouseGateway } from '../../projections/store/clickhouse-gateway.js';
import type { Logger } from '../logger.js';

/** The DDL of one generation, in order. Every statement is IF NOT EXISTS, so running it again is a no-op. */
export function schemaStatements(names: TableNames): string[] {
  return TABLE_DEFINITIONS.map((t) => t.create(names).trim());
}

export async function migrate(clickhouse: ClickHouseGateway, generation: number, logger: Logger): Promise<TableNames> {
  const names = tableNames(generation);
  const started = performance.now();
  for (const statement of schemaStatements(names)) await clickhouse.command(statement);
  logger.info({ generation, tables: Object.values(names), ms: Math.round(performance.now() - started) }, 'schema is up to date');
  return names;
}
