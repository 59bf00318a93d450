/**
 * The parts of the ClickHouse HTTP interface that are pure text handling:
 * splitting a request into query, parameters and settings, translating
 * parameter wire text for chdb, and shaping exceptions the way the server does.
 * Kept apart from the server so it can be read against the client source.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** URL parameters the server consumes itself; every other one is a setting (HTTPHandler's reserved names). */
const RESERVED = new Set([
  'query', 'query_id', 'database', 'default_format', 'compress', 'decompress', 'user', 'password', 'quota_key',
  'role', 'stacktrace', 'buffer_size', 'wait_end_of_query', 'session_id', 'session_timeout', 'session_check',
  'close_session', 'client_protocol_version',
]);

export interface WireRequest {
  sql: string;
  /** Raw `param_<name>` texts, exactly as the client formatted them. */
  params: Record<string, string>;
  settings: Map<string, string>;
  database: string | undefined;
  queryId: string | undefined;
  defaultFormat: string | undefined;
}

/** An exception raised by the endpoint itself, shaped like the engine's. */
export class WireError extends Error {
  constructor(readonly code: number, readonly codeName: string, message: string) {
    super(`Code: ${code}. DB::Exception: ${message}. (${codeName})`);
  }
}

/** The server reads the query from the URL and/or the body; when both are present the body follows (INSERT data). */
export function splitRequest(search: URLSearchParams, body: string, multipart: Map<string, string> | undefined): WireRequest {
  const params: Record<string, string> = {};
  const settings = new Map<string, string>();
  const fields = new Map<string, string>();
  const take = (name: string, value: string): void => {
    if (name.startsWith('param_')) params[name.slice('param_'.length)] = value;
    else if (RESERVED.has(name)) fields.set(name, value);
    else settings.set(name, value);
  };
  for (const [name, value] of search) take(name, value);
  let bodyQuery = body;
  if (multipart) {
    bodyQuery = multipart.get('query') ?? '';
    for (const [name, value] of multipart) if (name !== 'query') take(name, value);
  }
  if (fields.get('compress') === '1' || fields.get('decompress') === '1') {
    throw new WireError(48, 'NOT_IMPLEMENTED', 'Native ClickHouse compression is not served by the test endpoint');
  }
  const urlQuery = fields.get('query') ?? '';
  const sql = urlQuery && bodyQuery ? `${urlQuery}\n${bodyQuery}` : urlQuery || bodyQuery;
  if (sql.trim() === '') throw new WireError(62, 'SYNTAX_ERROR', 'Empty query');
  return { sql, params, settings, database: fields.get('database'), queryId: fields.get('query_id'), defaultFormat: fields.get('default_format') };
}

/** Formats chdb inserts from bytes as they are (its raw insert); others take the general path. */
const RAW_INSERT_FORMATS = new Set(['JSONEachRow', 'JSONCompactEachRow', 'CSV', 'CSVWithNames', 'TSV', 'TabSeparated', 'TSVWithNames', 'TabSeparatedWithNames']);

export interface PlainInsert {
  table: string;
  columns: string[] | undefined;
  format: 'JSONEachRow' | 'JSONCompactEachRow' | 'CSV' | 'CSVWithNames' | 'TSV' | 'TabSeparated' | 'TSVWithNames' | 'TabSeparatedWithNames';
}

/**
 * `INSERT INTO t [(a, b)] FORMAT F`, the statement the client sends for insert()
 * with the rows in the body. Such a body is handed to the engine as bytes, as a
 * server streams it into its parser, rather than spliced into one query string
 * the size of the batch. Anything else (INSERT ... SELECT, EXCEPT lists, other
 * formats) is null and takes the general path.
 */
export function plainInsert(sql: string): PlainInsert | null {
  const match = /^\s*INSERT\s+INTO\s+([A-Za-z0-9_.`]+)\s*(?:\(([A-Za-z0-9_,\s`]+)\))?\s*FORMAT\s+([A-Za-z]+)\s*$/i.exec(sql);
  if (!match) return null;
  const [, table, columns, format] = match;
  if (!table || !format || !RAW_INSERT_FORMATS.has(format)) return null;
  return { table, columns: columns?.split(',').map((c) => c.trim()), format: format as PlainInsert['format'] };
}

export function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case '':
    case 'identity':
      return raw;
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(raw);
    case 'deflate':
      return inflateSync(raw);
    case 'br':
      return brotliDecompressSync(raw);
    default:
      throw new WireError(36, 'BAD_ARGUMENTS', `Unknown Content-Encoding of HTTP request: ${encoding}`);
  }
}

/** The client sends oversized parameters as multipart/form-data parts named `query` and `param_<name>`. */
export function parseMultipart(body: Buffer, contentType: string | undefined): Map<string, string> | undefined {
  const boundary = /^multipart\/form-data;.*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  if (!boundary) return undefined;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  const parts = new Map<string, string>();
  for (const chunk of body.toString('utf8').split(delimiter).slice(1)) {
    if (chunk.startsWith('--')) break;
    const headerEnd = chunk.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const name = /name="([^"]*)"/i.exec(chunk.slice(0, headerEnd))?.[1];
    if (name !== undefined) parts.set(name, chunk.slice(headerEnd + 4).replace(/\r\n$/, ''));
  }
  return parts;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '0': '\0', a: '\x07', v: '\v', e: '\x1b' };

/** Resolves backslash escapes; `quote` is what `\'` becomes. */
function unescape(text: string, quote: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[\s\S])/g, (_, seq: string) => {
    if (seq === "'") return quote;
    if (seq.length === 3) return String.fromCharCode(parseInt(seq.slice(1), 16));
    return SIMPLE_ESCAPES[seq] ?? seq;
  });
}

/** `{name:Type}` placeholders; the type decides how the server reads the parameter text. */
function placeholderTypes(sql: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of sql.matchAll(/\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/g)) {
    if (m[1] !== undefined && m[2] !== undefined && !types.has(m[1])) types.set(m[1], m[2]);
  }
  return types;
}

function isComposite(type: string): boolean {
  let inner = type.trim();
  for (let m = /^(?:Nullable|LowCardinality)\s*\((.*)\)$/s.exec(inner); m; m = /^(?:Nullable|LowCardinality)\s*\((.*)\)$/s.exec(inner)) {
    inner = (m[1] ?? '').trim();
  }
  return /^(?:Array|Tuple|Map|Nested)\s*\(/i.test(inner);
}

/**
 * The server hands each parameter's text to the type's "escaped" reader: a
 * scalar is backslash-unescaped, a composite (`['a\'b']`) is read as a quoted
 * literal with no unescape layer. chdb cannot take raw text: it TSV-escapes
 * every string it binds (doubling backslashes, escaping control characters,
 * leaving quotes alone). So each text is turned into the value whose chdb
 * encoding the engine reads back as the same value the server would have
 * read: scalars fully unescaped, composites unescaped with `\'` rewritten to
 * the SQL-style `''` (the only quote escape that survives chdb's encoding).
 */
export function paramsForChdb(sql: string, raw: Readonly<Record<string, string>>): Record<string, string | null> {
  const types = placeholderTypes(sql);
  const out: Record<string, string | null> = {};
  for (const [name, text] of Object.entries(raw)) {
    const type = types.get(name);
    out[name] = text === '\\N' ? null : unescape(text, type !== undefined && isComposite(type) ? "''" : "'");
  }
  return out;
}

/** The format of the result: a trailing FORMAT clause wins over `default_format`, as on the server. */
export function resultFormat(sql: string, defaultFormat: string | undefined): string {
  if (/^\s*INSERT\b/i.test(sql)) return defaultFormat ?? 'TabSeparated';
  return /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i.exec(sql)?.[1] ?? defaultFormat ?? 'TabSeparated';
}

export function contentTypeFor(format: string): string {
  if (/^JSON(Compact)?(Strings)?EachRow/i.test(format)) return 'application/x-ndjson; charset=UTF-8';
  if (/^JSON/i.test(format)) return 'application/json; charset=UTF-8';
  if (/^(TabSeparated|TSV)/i.test(format)) return 'text/tab-separated-values; charset=UTF-8';
  if (/^CSV/i.test(format)) return 'text/csv; charset=UTF-8; header=absent';
  return 'text/plain; charset=UTF-8';
}

/** Status classes by exception name, from the server's exceptionCodeToHTTPStatus. */
const BAD_REQUEST = /^(BAD_ARGUMENTS|CANNOT_COMPILE_REGEXP|CANNOT_PARSE_\w+|DUPLICATE_COLUMN|ILLEGAL_COLUMN|UNKNOWN_ELEMENT_IN_AST|UNKNOWN_TYPE_OF_AST_NODE|THERE_IS_NO_COLUMN|TOO_DEEP_AST|TOO_BIG_AST|UNEXPECTED_AST_STRUCTURE|SYNTAX_ERROR|INCORRECT_DATA|TYPE_MISMATCH|VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE)$/;
const NOT_FOUND = /^(UNKNOWN_(TABLE|FUNCTION|IDENTIFIER|TYPE|STORAGE|DATABASE|SETTING|DIRECTION_OF_SORTING|AGGREGATE_FUNCTION|FORMAT|DATABASE_ENGINE|TYPE_OF_QUERY|ROLE))$/;
const OTHER: Readonly<Record<string, number>> = {
  REQUIRED_PASSWORD: 401, UNKNOWN_USER: 403, WRONG_PASSWORD: 403, AUTHENTICATION_FAILED: 403, ACCESS_DENIED: 403,
  QUERY_IS_TOO_LARGE: 413, NOT_IMPLEMENTED: 501, SOCKET_TIMEOUT: 503, CANNOT_OPEN_FILE: 503,
  TIMEOUT_EXCEEDED: 408, CANNOT_SCHEDULE_TASK: 503, UNSUPPORTED_MEDIA_TYPE: 415,
};

export interface WireFailure {
  status: number;
  code: number;
  body: string;
}

/** chdb's typed errors carry the engine code; its message is already the server's `Code: N. DB::Exception: ... (NAME)` text. */
export function failureFor(error: unknown, version: string): WireFailure {
  const message = error instanceof Error ? error.message : String(error);
  const engineCode = (error as { clickhouseCode?: unknown } | null)?.clickhouseCode;
  const parsed = /Code: (\d+)\./.exec(message);
  const code = typeof engineCode === 'number' ? engineCode : parsed ? Number(parsed[1]) : 1001;
  // The client only recognises an exception whose text has the `Code: N. ...Exception: ... (NAME)` shape.
  const text = parsed ? message : `Code: ${code}. DB::Exception: ${message}. (STD_EXCEPTION)`;
  const name = /\(([A-Z0-9_]*[A-Z]{3}[A-Z0-9_]*)\)\s*$/.exec(text.trim())?.[1] ?? '';
  const status = BAD_REQUEST.test(name) ? 400 : NOT_FOUND.test(name) ? 404 : (OTHER[name] ?? 500);
  return { status, code, body: `${text.trim()} (version ${version})\n` };
}
