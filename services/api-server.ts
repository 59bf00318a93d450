import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { createApp, type ApiConfig } from '../api/app.js';
import { flushRideAlongs } from '../api/middleware/turn-batch.js';
import type { ReadModel } from '../projections/sessions/sessions.queries.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import type { Config } from './config.js';
import type { Component } from './lifecycle.js';
import type { Logger } from './logger.js';

/**
 * Requests Node's HTTP parser refuses (headers or URL over the size limit,
 * a malformed request line) never reach Koa; they get the error envelope too,
 * as Node's own handler would answer them (431 / 408 / 400), and the
 * connection is closed. Nothing is written into a response already under way.
 */
function answerUnparsable(error: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const requestId = `req_${randomUUID().replaceAll('-', '')}`;
  const body = JSON.stringify({
    error: { code: 'invalid_request', message: status === 431 ? 'the request line or headers are too large' : 'the request could not be parsed', details: { requestId } },
  });
  // A HEAD request (when the refused bytes show one) gets the headers only, or its client would read the body as garbage.
  const head = Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-ID: ${requestId}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
  );
}

/** The API's slice of the service configuration. */
export function apiConfig(config: Config): ApiConfig {
  return {
    region: config.region,
    cursorSecret: config.api.cursorSecret,
    redisPrefix: config.redis.keyPrefix,
    rateLimit: config.api.rateLimit,
    keyCacheMs: config.api.keyCacheMs,
    publicUrls: config.api.publicUrls,
    version: process.env.npm_package_version ?? '0.1.0',
  };
}

export interface ApiServer extends Component {
  /** The bound address, once started (port 0 picks a free one). */
  url(): string;
}

/**
 * The HTTP server around the Koa app. Stopping drains first: for `drainMs`
 * the readiness probe answers 503 (a balancer stops sending) while requests
 * are still served, with `Connection: close` so clients stop reusing their
 * connections; then the listener closes, in-flight requests finish and idle
 * connections close. A SIGTERM under load thus drops no request.
 */
export function createApiServer(
  config: Config,
  deps: { readModel: () => ReadModel; redis: RedisClient; registry: Registry; logger: Logger; ready: () => Promise<Record<string, boolean>>; now: () => number },
): ApiServer {
  let draining = false;
  const ready = async (): Promise<Record<string, boolean>> => ({ ...(await deps.ready()), accepting: !draining });
  const app = createApp(apiConfig(config), { ...deps, ready });
  app.proxy = config.api.trustProxy;
  let server: Server | null = null;
  let address = '';

  return {
    name: 'api',
    url: () => address,
    async start() {
      const handle = app.callback();
      server = createServer((req, res) => {
        if (draining) res.setHeader('Connection', 'close');
        void handle(req, res);
      });
      server.keepAliveTimeout = 5_000;
      server.on('clientError', answerUnparsable);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(config.api.port, config.api.host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      address = `http://${config.api.host}:${port}`;
      deps.logger.info({ url: address }, 'API listening');
    },
    async stop() {
      if (!server) return;
      draining = true;
      if (config.api.drainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.api.drainMs));
      const closing = new Promise<void>((resolve) => server!.close(() => resolve()));
      server.closeIdleConnections();
      await closing;
      // The last requests' usage meters must reach Redis before its connection closes.
      flushRideAlongs();
    },
  };
}
