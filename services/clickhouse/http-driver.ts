import { createClient, ClickHouseError as ClientError, ClickHouseLogLevel } from '@clickhouse/client';
import {
  ClickHouseError,
  normalizeParams,
  parseClickHouseCode,
  SESSION_SETTINGS,
  type ClickHouseGateway,
  type QueryParams,
  type Row,
  type RowValues,
} from '../../projections/store/clickhouse-gateway.js';

export interface HttpConfig {
  url: string;
  username: string;
  password: string;
  database: string;
  requestTimeoutMs: number;
  /** Set on a cluster: inserts into Distributed tables then complete on the shards before they are acknowledged. */
  cluster?: string | undefined;
}

function toGatewayError(error: unknown, what: string): ClickHouseError {
  if (error instanceof ClickHouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ClientError) {
    const code = Number(error.code);
    return new ClickHouseError(`${what}: ${message}`, { code: Number.isFinite(code) ? code : parseClickHouseCode(message), cause: error });
  }
  // No ClickHouse exception means the server was not reached (refused, reset, timed out): worth retrying.
  return new ClickHouseError(`${what}: ${message}`, { code: parseClickHouseCode(message), retriable: true, cause: error });
}

/** A ClickHouse server or cluster over HTTP through the official client. */
export function createHttpGateway(config: HttpConfig): ClickHouseGateway {
  const client = createClient({
    url: config.url,
    username: config.username,
    password: config.password,
    database: config.database,
    request_timeout: config.requestTimeoutMs,
    // Failures reach the caller as typed errors and are logged there, in our structured logs; the client's own stderr logging would duplicate them.
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: { ...SESSION_SETTINGS, ...(config.cluster ? { distributed_foreground_insert: 1 } : {}) },
  });

  return {
    driver: 'http',
    async query<T = Row>(sql: string, params?: QueryParams): Promise<T[]> {
      try {
        const result = await client.query({ query: sql, query_params: normalizeParams(params), format: 'JSONEachRow' });
        return await result.json<T>();
      } catch (error) {
        throw toGatewayError(error, 'query failed');
      }
    },
    async insert(table: string, rows: readonly Row[]): Promise<void> {
      if (rows.length === 0) return;
      try {
        await client.insert({ table, values: rows as Row[], format: 'JSONEachRow' });
      } catch (error) {
        throw toGatewayError(error, `insert into ${table} failed`);
      }
    },
    async insertValues(table: string, rows: RowValues): Promise<void> {
      if (rows.values.length === 0) return;
      const [first, ...rest] = rows.columns;
      if (first === undefined) throw new ClickHouseError(`insert into ${table}: no columns named`, { retriable: false });
      try {
        await client.insert({ table, values: rows.values as unknown[][], columns: [first, ...rest], format: 'JSONCompactEachRow' });
      } catch (error) {
        throw toGatewayError(error, `insert into ${table} failed`);
      }
    },
    async command(sql: string, params?: QueryParams): Promise<void> {
      try {
        await client.command({ query: sql, query_params: normalizeParams(params) });
      } catch (error) {
        throw toGatewayError(error, 'command failed');
      }
    },
    async ping(): Promise<boolean> {
      const result = await client.ping();
      return result.success;
    },
    async close(): Promise<void> {
      await client.close();
    },
  };
}
