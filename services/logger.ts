import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Anything that might carry a credential is redacted at
 * the logger, so a careless log call cannot leak an API key.
 */
export function createLogger(options: { level: string; name: string }): Logger {
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
  });
}
