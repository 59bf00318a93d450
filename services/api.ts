import { createApiServer } from './api-server.js';
import { loadConfig } from './config.js';
import { runComponents } from './lifecycle.js';
import { createLogger } from './logger.js';
import { createRuntime, storesReady } from './runtime.js';

/** The read API alone: any number of these run behind a balancer (ClickHouse over http). */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'notai-api' });
const runtime = createRuntime(config, logger, 'api');
const api = createApiServer(config, {
  readModel: runtime.readModel.current,
  redis: runtime.redis,
  registry: runtime.registry,
  logger,
  ready: storesReady(runtime),
  now: Date.now,
});
await runComponents([runtime.clients, runtime.infrastructure, api], logger);
