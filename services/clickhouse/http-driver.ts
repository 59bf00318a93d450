import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createClient, ClickHouseError as ClientError, ClickHouseLogLevel } from '@clickhouse/client';
import {
  ClickHouseError,
  jsonCompactEachRowText,
  jsonEachRowText,
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

/** An insert answers with nothing: its response is read to the end, so its socket goes back to the pool. */
async function readToEnd({ stream }: { stream: Readable }): Promise<void> {
  stream.resume();
  await finished(stream);
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
    // The client would encode a text per row; the statement is the one it would build, the body one text.
    async insert(table: string, rows: readonly Row[]): Promise<void> {
      if (rows.length === 0) return;
      try {
        await readToEnd(await client.exec({ query: `INSERT INTO ${table} FORMAT JSONEachRow`, values: Readable.from([jsonEachRowText(rows)]) }));
      } catch (error) {
        throw toGatewayError(error, `insert into ${table} failed`);
      }
    },
    async insertValues(table: string, rows: RowValues): Promise<void> {
      if (rows.values.length === 0) return;
      if (rows.columns.length === 0) throw new ClickHouseError(`insert into ${table}: no columns named`, { retriable: false });
      try {
        const query = `INSERT INTO ${table} (${rows.columns.join(', ')}) FORMAT JSONCompactEachRow`;
        await readToEnd(await client.exec({ query, values: Readable.from([jsonCompactEachRowText(rows.values)]) }));
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
