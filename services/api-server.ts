import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createApp } from '../api/app.js';
import type { ReadModel } from '../projections/sessions/sessions.queries.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import type { Config } from './config.js';
import type { Component } from './lifecycle.js';
import type { Logger } from './logger.js';

export interface ApiServer extends Component {
  /** The bound address, once started (port 0 picks a free one). */
  url(): string;
}

/**
 * The HTTP server around the Koa app. Stopping closes the listener, lets
 * in-flight requests finish and closes idle keep-alive connections, so a
 * SIGTERM under load drops no request.
 */
export function createApiServer(
  config: Config,
  deps: { readModel: () => ReadModel; redis: RedisClient; registry: Registry; logger: Logger; ready: () => Promise<Record<string, boolean>>; now: () => number },
): ApiServer {
  const app = createApp(
    {
      region: config.region,
      cursorSecret: config.api.cursorSecret,
      redisPrefix: config.redis.keyPrefix,
      rateLimit: config.api.rateLimit,
      keyCacheMs: config.api.keyCacheMs,
      publicUrls: config.api.publicUrls,
      version: process.env.npm_package_version ?? '0.1.0',
    },
    deps,
  );
  app.proxy = config.api.trustProxy;
  let server: Server | null = null;
  let address = '';

  return {
    name: 'api',
    url: () => address,
    async start() {
      server = createServer(app.callback());
      server.keepAliveTimeout = 5_000;
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
      const closing = new Promise<void>((resolve) => server!.close(() => resolve()));
      server.closeIdleConnections();
      await closing;
    },
  };
}
