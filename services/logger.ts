import { destination, pino, type Logger } from 'pino';

export type { Logger };

/**
 * Stdout, written asynchronously: lines logged while a write is under way go
 * out together in the next one, instead of a write system call per line
 * (pino's default), which at level info is one per API request. Nothing waits
 * for a buffer to fill, and pino flushes synchronously when the process exits.
 * One stream per process, so two loggers never interleave partial writes.
 */
let stdout: ReturnType<typeof destination> | undefined;

/**
 * Structured JSON logs. Anything that might carry a credential is redacted at
 * the logger, so a careless log call cannot leak an API key.
 */
export function createLogger(options: { level: string; name: string }): Logger {
  stdout ??= destination({ dest: 1, sync: false });
  return pino({
    name: options.name,
    level: options.level,
    base: { service: options.name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'headers.authorization',
        'headers["x-api-key"]',
        'apiKey',
        '*.apiKey',
      ],
      censor: '[redacted]',
    },
  }, stdout);
}
