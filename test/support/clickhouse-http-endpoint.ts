/**
 * A ClickHouse HTTP endpoint served from the embedded engine, so the HTTP driver
 * (@clickhouse/client) runs end to end without a ClickHouse server, which this
 * machine cannot run. It implements what the client sends (see
 * clickhouse-http-wire.ts) and nothing more: queries with bound parameters,
 * URL settings, inserts with data in the body, exceptions, ping.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { drainPending, Session } from 'chdb';
import {
  contentTypeFor,
  decodeBody,
  failureFor,
  paramsForChdb,
  parseMultipart,
  plainInsert,
  resultFormat,
  splitRequest,
  type PlainInsert,
  type WireRequest,
} from './clickhouse-http-wire.js';
import { SessionState } from './clickhouse-session-state.js';

export interface ClickHouseHttpEndpoint {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** While down, every connection is dropped unanswered, as if the server were unreachable. */
  setDown(down: boolean): void;
}

/**
 * `path`: the endpoint opens (and closes) its own session there. `session`: an
 * open session the endpoint borrows and leaves open; it changes that session's
 * settings per request, so nothing else should query it meanwhile.
 */
export type EndpointOptions = { path: string } | { session: Session };

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const LOOPBACK = '127.0.0.1';
/** The client puts parameters in the URL; the server accepts long URIs (http_max_uri_size), Node's default 16 KiB does not. */
const MAX_HEADER_BYTES = 1024 * 1024;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function summary(counts: { read?: [rows: number, bytes: number]; written?: [rows: number, bytes: number] }, elapsedSeconds: number): string {
  // The server reports every counter as a decimal string; result counts are not known here.
  const [readRows, readBytes] = counts.read ?? [0, 0];
  const [writtenRows, writtenBytes] = counts.written ?? [0, 0];
  return JSON.stringify({
    read_rows: String(readRows), read_bytes: String(readBytes), written_rows: String(writtenRows), written_bytes: String(writtenBytes),
    total_rows_to_read: String(readRows), result_rows: '0', result_bytes: '0', elapsed_ns: String(Math.round(elapsedSeconds * 1e9)),
  });
}

export async function startClickHouseHttpEndpoint(opts: EndpointOptions): Promise<ClickHouseHttpEndpoint> {
  let session: Session;
  let ownsSession = false;
  if ('session' in opts) {
    session = opts.session;
  } else {
    // A session closed just before may still be releasing the engine, which refuses a new data path until then.
    await drainPending();
    // Server defaults where chdb's differ, so a client that forgets a setting fails here as it would in production.
    session = new Session(opts.path, {
      installSignalHandlers: false,
      connectionArgs: ['--output_format_json_quote_64bit_integers=1', '--date_time_input_format=basic'],
    });
    ownsSession = true;
  }
  const versionRow = JSON.parse((await session.queryAsync('SELECT version() AS v', { format: 'JSONEachRow' })).text()) as { v: string };
  const version = versionRow.v;
  const state = new SessionState(session);
  // chdb runs one statement at a time per session anyway; the queue also keeps SET/USE and the query together.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  const execute = async (request: WireRequest, queryId: string): Promise<Answer> => {
    const format = resultFormat(request.sql, request.defaultFormat);
    const result = await serially(async () => {
      await state.apply(request.settings, request.database);
      return session.queryBindAsync(request.sql, paramsForChdb(request.sql, request.params), { format });
    });
    return {
      status: 200,
      headers: {
        'Content-Type': contentTypeFor(format),
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Format': format,
        'X-ClickHouse-Summary': summary({ read: [result.rowsRead, result.bytesRead] }, result.elapsed),
      },
      body: Buffer.from(result.bytes()),
    };
  };

  const executeInsert = async (request: WireRequest, insert: PlainInsert, rows: Buffer, queryId: string): Promise<Answer> => {
    const result = await serially(async () => {
      await state.apply(request.settings, request.database);
      return session.insert({ table: insert.table, ...(insert.columns ? { columns: insert.columns } : {}), values: rows, format: insert.format });
    });
    return {
      status: 200,
      headers: {
        'Content-Type': contentTypeFor(resultFormat(request.sql, request.defaultFormat)),
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Summary': summary({ written: [result.rowsWritten, result.bytesSent] }, result.elapsed),
      },
      body: Buffer.alloc(0),
    };
  };

  const answer = async (req: http.IncomingMessage): Promise<Answer> => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    const ok = { status: 200, headers: { 'Content-Type': 'text/html; charset=UTF-8' }, body: Buffer.from('Ok.\n') };
    const body = decodeBody(await readBody(req), req.headers['content-encoding']);
    if (url.pathname === '/ping') return ok;
    if (url.pathname !== '/') {
      return { status: 404, headers: { 'Content-Type': 'text/plain; charset=UTF-8' }, body: Buffer.from(`There is no handle ${url.pathname}\n`) };
    }
    const multipart = parseMultipart(body, req.headers['content-type']);
    if (!url.searchParams.has('query') && body.length === 0 && !multipart) return ok;
    const queryId = url.searchParams.get('query_id') || randomUUID();
    try {
      const insert = !multipart && body.length > 0 && url.searchParams.has('query') ? plainInsert(url.searchParams.get('query') ?? '') : null;
      if (insert) return await executeInsert(splitRequest(url.searchParams, '', undefined), insert, body, queryId);
      return await execute(splitRequest(url.searchParams, body.toString('utf8'), multipart), queryId);
    } catch (error) {
      const failure = failureFor(error, version);
      return {
        status: failure.status,
        headers: {
          'Content-Type': 'text/plain; charset=UTF-8',
          'X-ClickHouse-Query-Id': queryId,
          'X-ClickHouse-Exception-Code': String(failure.code),
        },
        body: Buffer.from(failure.body),
      };
    }
  };

  let down = false;
  const sockets = new Set<Socket>();
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    answer(req)
      .then(({ status, headers, body }) => {
        // Compress only when asked both ways, like the server (enable_http_compression + Accept-Encoding).
        const compress = new URL(req.url ?? '/', `http://${LOOPBACK}`).searchParams.get('enable_http_compression') === '1'
          && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
        const payload = compress ? gzipSync(body) : body;
        res.writeHead(status, { ...headers, ...(compress ? { 'Content-Encoding': 'gzip' } : {}), 'Content-Length': String(payload.length) });
        res.end(payload);
      })
      .catch((error: unknown) => {
        // Malformed requests (bad encoding, broken body) never reach the engine.
        const failure = failureFor(error, version);
        res.writeHead(failure.status, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Exception-Code': String(failure.code) });
        res.end(failure.body);
      });
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', (socket: Socket) => {
    if (down) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, LOOPBACK, () => resolve());
    });
  } catch (error) {
    if (ownsSession) session.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${LOOPBACK}:${port}`,
    port,
    setDown(value: boolean): void {
      down = value;
      // Kept-alive connections would otherwise keep answering: an unreachable server has none.
      if (value) for (const socket of sockets) socket.destroy();
    },
    async stop(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await queue;
      if (ownsSession) {
        session.close();
        await drainPending();
      }
    },
  };
}

export interface TestClickHouse {
  url: string;
  /** Present only for the local endpoint: a real server cannot be taken down from a test. */
  endpoint: ClickHouseHttpEndpoint | undefined;
  stop(): Promise<void>;
}

/** CLICKHOUSE_URL when set (a real server, left as found); otherwise a local endpoint over a fresh directory, removed on stop. */
export async function resolveClickHouseForTests(): Promise<TestClickHouse> {
  const external = process.env['CLICKHOUSE_URL'];
  if (external) return { url: external, endpoint: undefined, stop: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), 'clickhouse-endpoint-'));
  try {
    const endpoint = await startClickHouseHttpEndpoint({ path: dir });
    return {
      url: endpoint.url,
      endpoint,
      async stop(): Promise<void> {
        try {
          await endpoint.stop();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
