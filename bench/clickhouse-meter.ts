import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through HTTP proxy in front of the ClickHouse endpoint that times
 * every statement the children send, by kind (`INSERT sessions`, `SELECT …
 * FROM sessions FINAL`, ...). It answers "what bounds the projector": how much
 * of a batch is spent waiting for ClickHouse, on which statements. It adds one
 * loopback hop (well under a millisecond) to each request.
 */
export interface ClickHouseMeter {
  url: string;
  /** Totals per statement kind since the last call, largest first. */
  take(): Record<string, StatementTotals>;
  stop(): Promise<void>;
}

/** The path on the meter's port that answers (and resets) the totals, for a harness in another process. */
export const METER_TOTALS_PATH = '/__bench/statement-totals';

/** A short, stable label: the verb and the first table named, so parameters and row counts do not split it. */
export function statementKind(sql: string): string {
  const text = sql.replace(/\s+/g, ' ').trim();
  const insert = /^INSERT INTO\s+`?([\w.]+)/i.exec(text);
  if (insert) return `INSERT ${insert[1]}`;
  const from = /\bFROM\s+`?([\w.]+)`?(\s+FINAL)?/i.exec(text);
  const verb = /^(\w+)/.exec(text)?.[1]?.toUpperCase() ?? '?';
  return from ? `${verb} ${from[1]}${from[2] ? ' FINAL' : ''}` : verb;
}

export interface StatementTotals {
  count: number;
  /** As the client waited: queueing behind other statements included. */
  totalMs: number;
  meanMs: number;
  maxMs: number;
  /**
   * The engine's own time, from the X-ClickHouse-Summary header (elapsed_ns):
   * the embedded engine runs one statement at a time, so this is what a kind
   * costs the engine, where totalMs also counts the wait behind the others.
   */
  engineMs: number;
  rowsRead: number;
  rowsWritten: number;
}

type Running = Omit<StatementTotals, 'meanMs'>;

/** elapsed_ns, read_rows and written_rows of a summary header; zeros where it is absent or not JSON. */
function engineSummary(header: string | string[] | undefined): { ms: number; read: number; written: number } {
  const none = { ms: 0, read: 0, written: 0 };
  if (typeof header !== 'string') return none;
  try {
    const parsed = JSON.parse(header) as { elapsed_ns?: string; read_rows?: string; written_rows?: string } | null;
    if (parsed === null || typeof parsed !== 'object') return none;
    return { ms: Number(parsed.elapsed_ns ?? 0) / 1e6 || 0, read: Number(parsed.read_rows ?? 0) || 0, written: Number(parsed.written_rows ?? 0) || 0 };
  } catch {
    return none;
  }
}

/** One statement the client waited on for at least `slow.atLeastMs`: whether it was slow itself (engineMs) or queued behind others. */
export interface SlowStatement {
  at: string;
  kind: string;
  ms: number;
  engineMs: number;
  rowsRead: number;
  rowsWritten: number;
}

export async function startClickHouseMeter(
  target: string,
  options: { port?: number; slow?: { atLeastMs: number; report: (statement: SlowStatement) => void } } = {},
): Promise<ClickHouseMeter> {
  const upstream = new URL(target);
  // Idle sockets close here (5 s) before the endpoint closes them (10 s): reusing one the endpoint had just
  // closed failed a statement with "socket hang up", answered 502, which the API served as a 500.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, timeout: 5_000 });
  let totals = new Map<string, Running>();

  const server = http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    if (req.method === 'GET' && req.url === METER_TOTALS_PATH) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(take()));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', target);
      // The client sends an INSERT's statement in the URL and a query's in the body.
      const sql = url.searchParams.get('query') ?? (req.headers['content-encoding'] ? '' : body.subarray(0, 400).toString('utf8'));
      const kind = sql ? statementKind(sql) : url.pathname;
      const started = performance.now();
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => {
            const ms = performance.now() - started;
            const engine = engineSummary(answer.headers['x-clickhouse-summary']);
            if (options.slow && ms >= options.slow.atLeastMs) {
              options.slow.report({ at: new Date().toISOString(), kind, ms: Math.round(ms), engineMs: Math.round(engine.ms), rowsRead: engine.read, rowsWritten: engine.written });
            }
            const t = totals.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0, engineMs: 0, rowsRead: 0, rowsWritten: 0 };
            totals.set(kind, {
              count: t.count + 1,
              totalMs: t.totalMs + ms,
              maxMs: Math.max(t.maxMs, ms),
              engineMs: t.engineMs + engine.ms,
              rowsRead: t.rowsRead + engine.read,
              rowsWritten: t.rowsWritten + engine.written,
            });
          });
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502).end(String(error));
      });
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 10_000;
  function take(): Record<string, StatementTotals> {
    const out = Object.fromEntries(
      [...totals]
        .sort(([, a], [, b]) => b.totalMs - a.totalMs)
        .map(([k, t]) => [
          k,
          { count: t.count, totalMs: Math.round(t.totalMs), meanMs: Math.round((t.totalMs / t.count) * 10) / 10, maxMs: Math.round(t.maxMs), engineMs: Math.round(t.engineMs), rowsRead: t.rowsRead, rowsWritten: t.rowsWritten },
        ]),
    );
    totals = new Map();
    return out;
  }
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
