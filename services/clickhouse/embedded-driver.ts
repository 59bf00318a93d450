import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  ClickHouseError,
  jsonCompactEachRowText,
  jsonEachRowText,
  normalizeParams,
  parseClickHouseCode,
  SESSION_SETTINGS,
  type ClickHouseGateway,
  type ParamValue,
  type QueryParams,
  type Row,
  type RowValues,
} from '../../projections/store/clickhouse-gateway.js';

/**
 * chdb maps the whole ClickHouse engine when it loads (about 150 MB resident),
 * so it is loaded on first use: processes on the http driver never carry it.
 */
const loadChdb = (): typeof import('chdb') => createRequire(import.meta.url)('chdb') as typeof import('chdb');

export interface EmbeddedConfig {
  /** Directory holding the tables; one process may open it at a time (ClickHouse locks it). */
  path: string;
}

/** chdb's error classes are not exported from its entry point, so they are recognised by shape. */
interface ChdbErrorShape {
  code: string;
  clickhouseCode?: number;
}
function isChdbError(error: unknown): error is Error & ChdbErrorShape {
  return error instanceof Error && typeof (error as Partial<ChdbErrorShape>).code === 'string' && (error as Partial<ChdbErrorShape>).code!.startsWith('CHDB');
}

/**
 * chdb binds a top-level boolean as `true`, which only a Bool placeholder reads;
 * the HTTP client sends `1`/`0`, which integer placeholders (UInt8 flags) read
 * too. Sending numbers keeps both drivers accepting the same parameters.
 */
function bindParams(params: QueryParams | undefined): Record<string, ParamValue> {
  const out = normalizeParams(params);
  for (const [k, v] of Object.entries(out)) if (typeof v === 'boolean') out[k] = v ? 1 : 0;
  return out;
}

function toGatewayError(error: unknown, what: string): ClickHouseError {
  if (error instanceof ClickHouseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = isChdbError(error) ? (error.clickhouseCode ?? parseClickHouseCode(message)) : parseClickHouseCode(message);
  // A closed session or a native failure without a ClickHouse code means the engine is gone, not that the SQL is wrong.
  const engineGone = isChdbError(error) && (error.code === 'CHDB_CLOSED' || error.code === 'CHDB_CONNECTION' || error.code === 'CHDB_INTERNAL');
  return new ClickHouseError(`${what}: ${message}`, { code, cause: error, ...(engineGone ? { retriable: true } : {}) });
}

/**
 * ClickHouse in-process through chdb. Queries run off the event loop; chdb
 * serializes them on one session, which is why hot point reads are served from
 * Redis and not from here.
 */
export function createEmbeddedGateway(config: EmbeddedConfig): ClickHouseGateway {
  mkdirSync(config.path, { recursive: true });
  const connectionArgs = Object.entries(SESSION_SETTINGS).map(([k, v]) => `--${k}=${v}`);
  const { Session } = loadChdb();
  const session = new Session(config.path, { connectionArgs, installSignalHandlers: false });
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new ClickHouseError('embedded ClickHouse session is closed', { retriable: false });
  };

  /** An insert's JSON text (see jsonEachRowText), handed to the engine as bytes. */
  async function insertText(table: string, text: string, format: 'JSONEachRow' | 'JSONCompactEachRow', columns?: readonly string[]): Promise<void> {
    ensureOpen();
    try {
      await session.insert({ table, ...(columns ? { columns } : {}), values: Buffer.from(text), format, settings: { date_time_input_format: 'best_effort' } });
    } catch (error) {
      throw toGatewayError(error, `insert into ${table} failed`);
    }
  }

  return {
    driver: 'embedded',
    async query<T = Row>(sql: string, params?: QueryParams): Promise<T[]> {
      ensureOpen();
      try {
        const result = await session.queryBindAsync(sql, bindParams(params), { format: 'JSONEachRow' });
        const text = result.text();
        if (text.length === 0) return [];
        return text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as T);
      } catch (error) {
        throw toGatewayError(error, 'query failed');
      }
    },
    async insert(table: string, rows: readonly Row[]): Promise<void> {
      if (rows.length > 0) await insertText(table, jsonEachRowText(rows), 'JSONEachRow');
    },
    async insertValues(table: string, rows: RowValues): Promise<void> {
      if (rows.values.length > 0) await insertText(table, jsonCompactEachRowText(rows.values), 'JSONCompactEachRow', rows.columns);
    },
    async command(sql: string, params?: QueryParams): Promise<void> {
      ensureOpen();
      try {
        await session.queryBindAsync(sql, bindParams(params), { format: 'JSONEachRow' });
      } catch (error) {
        throw toGatewayError(error, 'command failed');
      }
    },
    async ping(): Promise<boolean> {
      if (closed) return false;
      try {
        await session.queryAsync('SELECT 1', { format: 'JSONEachRow' });
        return true;
      } catch {
        return false;
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      session.close();
    },
  };
}
