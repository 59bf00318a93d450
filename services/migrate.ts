import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createRuntime } from './runtime.js';

/** Creates the topics and the ClickHouse tables, then exits: a deploy step before the services start. */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'notai-migrate' });
const runtime = createRuntime(config, logger, 'migrate');
await runtime.infrastructure.start();
await runtime.infrastructure.stop();
await runtime.clients.stop();
logger.info('topics and tables are in place');
