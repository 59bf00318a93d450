/**
 * The one way projections and queries reach ClickHouse. Two drivers implement it
 * (embedded chdb, HTTP); both run the same SQL, so everything above this line is
 * driver-agnostic. Parameters are always bound by ClickHouse (`{name:Type}`),
 * never spliced into the SQL text.
 */
export type ParamScalar = string | number | boolean | Date | null;
export type ParamValue = ParamScalar | readonly ParamValue[];
export type QueryParams = Readonly<Record<string, ParamValue>>;

export type Row = Record<string, unknown>;

/**
 * Rows as positional values in the order of `columns` (JSONCompactEachRow): no
 * column name is repeated per row, which the hot inserts (about eight timeline
 * rows per event) pay for in encoding on our side and parsing on ClickHouse's.
 */
export interface RowValues {
  columns: readonly string[];
  values: readonly (readonly unknown[])[];
}

/**
 * An insert's rows as one JSON text from one JSON.stringify, which both drivers
 * send: ClickHouse reads a JSON array of objects as JSONEachRow rows, and
 * JSONCompactEachRow rows separated by commas (that array's text less its
 * brackets). A text per row and their join, as the HTTP client made them,
 * cost 1.3–1.5 times as much on the projector's hot path and left a string
 * per row to collect.
 */
export const jsonEachRowText = (rows: readonly Row[]): string => JSON.stringify(rows);
export const jsonCompactEachRowText = (values: RowValues['values']): string => JSON.stringify(values).slice(1, -1);

export interface ClickHouseGateway {
  readonly driver: 'embedded' | 'http';
  /** Runs a SELECT and returns its rows (JSONEachRow). */
  query<T = Row>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Inserts rows as JSONEachRow; a row is a plain object of column values. */
  insert(table: string, rows: readonly Row[]): Promise<void>;
  /** Inserts positional rows as JSONCompactEachRow into the named columns. */
  insertValues(table: string, rows: RowValues): Promise<void>;
  /** Runs a statement that returns nothing (DDL, ALTER, SYSTEM). */
  command(sql: string, params?: QueryParams): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Settings every session runs with, on both drivers, so results are identical:
 * ISO timestamps out, ISO accepted in, 64-bit integers as JSON numbers, UTC.
 * A JSON object given for a String column is stored as its text: the
 * projector hands JSON-holding columns (a session's state, a timeline entry's
 * attributes) over as objects, so each is serialized once, inside the insert's
 * one JSON text, instead of to a string that the insert then escapes again.
 */
export const SESSION_SETTINGS = {
  date_time_output_format: 'iso',
  date_time_input_format: 'best_effort',
  input_format_json_read_objects_as_strings: 1,
  output_format_json_quote_64bit_integers: 0,
  session_timezone: 'UTC',
} as const;

/** ClickHouse error codes after which the same statement may succeed later. */
const RETRIABLE_CODES = new Set([
  159, // TIMEOUT_EXCEEDED
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS
  319, // UNKNOWN_STATUS_OF_INSERT
  425, // SYSTEM_ERROR
]);

export class ClickHouseError extends Error {
  override readonly name = 'ClickHouseError';
  /** The ClickHouse exception code, when the engine gave one. */
  readonly code: number | undefined;
  /** Whether retrying the same statement later can succeed (engine unreachable, overloaded). */
  readonly retriable: boolean;

  constructor(message: string, options: { code?: number | undefined; retriable?: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.retriable = options.retriable ?? (options.code !== undefined && RETRIABLE_CODES.has(options.code));
  }
}

/** Pulls `Code: NNN` out of a ClickHouse exception text. */
export function parseClickHouseCode(message: string): number | undefined {
  const match = /Code: (\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/** Dates are bound as `YYYY-MM-DD hh:mm:ss.sss` in UTC, which DateTime64(3, 'UTC') parameters accept on every version. */
export function normalizeParam(value: ParamValue): ParamValue {
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace('Z', '');
  if (Array.isArray(value)) return value.map(normalizeParam);
  return value;
}

export function normalizeParams(params: QueryParams | undefined): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(params ?? {})) out[k] = normalizeParam(v);
  return out;
}
