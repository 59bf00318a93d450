import { createServer } from 'node:http';
import { loadConfig } from './config.js';
import { runComponents, type Component } from './lifecycle.js';
import { createLogger } from './logger.js';
import type { BatchCheckpoint } from '../projections/runtime/batch-projector.js';
import { liveProjector } from './generation-follower.js';
import { createRuntime } from './runtime.js';

/**
 * One projector worker process: joins the consumer group and projects its
 * share of the partitions. A small HTTP listener answers /health, /readyz and
 * /metrics for the orchestrator (PROJECTOR_METRICS_PORT, default 9464).
 */
const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'notai-projector' });
const runtime = createRuntime(config, logger, 'projector');
const worker = liveProjector(config, { ...runtime, now: Date.now, ...crashPoint() });
const port = Number(process.env.PROJECTOR_METRICS_PORT ?? 9464);

/**
 * Fault injection for crash tests only: NOTAI_CRASH_AT=after-clickhouse:3 makes
 * the process SIGKILL itself right after the 3rd batch's ClickHouse write;
 * NOTAI_CRASH_AT=after-sessions:1:SIGSTOP stops it there instead, as a frozen
 * VM would, until the test sends SIGCONT.
 */
function crashPoint(): { checkpoint?: (point: BatchCheckpoint) => void } {
  const spec = process.env.NOTAI_CRASH_AT;
  if (!spec) return {};
  const [point, nth = '1', signal = 'SIGKILL'] = spec.split(':');
  if (signal !== 'SIGKILL' && signal !== 'SIGSTOP') throw new Error(`NOTAI_CRASH_AT: signal ${signal} is neither SIGKILL nor SIGSTOP`);
  const batch = Number(nth);
  let seen = 0;
  return {
    checkpoint: (reached) => {
      if (reached !== point) return;
      seen += 1;
      // A stopped process goes on where it stopped once continued: it freezes at that one batch only.
      const due = signal === 'SIGSTOP' ? seen === batch : seen >= batch;
      if (due) {
        logger.warn({ point, batch: seen, signal }, 'crash injected (NOTAI_CRASH_AT)');
        process.kill(process.pid, signal);
      }
    },
  };
}

const probes = createServer((req, res) => {
  const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
  if (req.url === '/health') return send(200, 'application/json', JSON.stringify({ data: { status: 'ok' } }));
  if (req.url === '/readyz') return worker.ready() ? send(200, 'application/json', '{"data":{"status":"ready"}}') : send(503, 'application/json', '{"error":{"code":"service_unavailable","message":"not ready","details":{}}}');
  if (req.url === '/metrics') {
    void runtime.registry.metrics().then((text) => send(200, runtime.registry.contentType, text));
    return;
  }
  send(404, 'application/json', '{"error":{"code":"not_found","message":"not found","details":{}}}');
});
const probeServer: Component = {
  name: 'probes',
  start: () => new Promise((resolve) => probes.listen(port, config.api.host, () => resolve())),
  stop: () => new Promise((resolve) => probes.close(() => resolve())),
};
await runComponents([runtime.clients, runtime.infrastructure, probeServer, worker], logger);
