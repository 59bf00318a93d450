import { createServer } from 'node:http';
import { loadConfig } from './config.js';
import { runComponents, type Component } from './lifecycle.js';
import { createLogger } from './logger.js';
import { BATCH_CHECKPOINTS, type BatchCheckpoint, type CheckpointHook } from '../projections/runtime/batch-projector.js';
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
 * Fault injection for crash tests only: NOTAI_CRASH_AT=<point>:<n>[:SIGKILL|SIGSTOP]
 * signals the process at that point (BATCH_CHECKPOINTS) of its n-th attempt at
 * a batch of session events (see CheckpointHook). A SIGKILL after the timeline
 * insert holds that attempt's Redis write back, and one after the Redis write
 * its timeline insert, so the kill falls between the two writes that run side
 * by side. SIGSTOP stops the
 * process there instead, as a frozen VM would, until the test sends SIGCONT.
 */
function crashPoint(): { checkpoint?: CheckpointHook } {
  const spec = process.env.NOTAI_CRASH_AT;
  if (!spec) return {};
  const [point, nth = '1', signal = 'SIGKILL'] = spec.split(':');
  const at = BATCH_CHECKPOINTS.find((p) => p === point);
  if (!at) throw new Error(`NOTAI_CRASH_AT: ${point} is not one of ${BATCH_CHECKPOINTS.join(', ')}`);
  if (signal !== 'SIGKILL' && signal !== 'SIGSTOP') throw new Error(`NOTAI_CRASH_AT: signal ${signal} is neither SIGKILL nor SIGSTOP`);
  const target = Number(nth);
  const otherWrite: Partial<Record<BatchCheckpoint, BatchCheckpoint>> = { 'after-timeline': 'before-redis', 'after-redis': 'before-timeline' };
  const heldBack = signal === 'SIGKILL' ? otherWrite[at] : undefined;
  return {
    checkpoint: (reached, batch) => {
      if (batch !== target) return;
      // Never settles: the kill comes first.
      if (reached === heldBack) return new Promise<void>(() => undefined);
      if (reached !== at) return;
      logger.warn({ point: at, batch, signal }, 'crash injected (NOTAI_CRASH_AT)');
      process.kill(process.pid, signal);
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
