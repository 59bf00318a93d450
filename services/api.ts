import { loadConfig } from './config.js';
import { runComponents } from './lifecycle.js';
import { createLogger } from './logger.js';
import { createRuntime, runtimeApiServer } from './runtime.js';

/** The read API alone: any number of these run behind a balancer (ClickHouse over http). */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'notai-api' });
const runtime = createRuntime(config, logger, 'api');
const api = runtimeApiServer(runtime);
await runComponents([runtime.clients, runtime.infrastructure, api], logger);
