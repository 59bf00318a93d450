import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type ProjectorMetrics = ReturnType<typeof build>;

/** Workers sharing a registry (several in one process) share the metrics: created once per registry. */
const byRegistry = new WeakMap<Registry, ReturnType<typeof build>>();

export function createProjectorMetrics(registry: Registry) {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = build(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}

function build(registry: Registry) {
  const registers = [registry];
  return {
    consumerLag: new Gauge({ name: 'projector_consumer_lag', help: 'Messages between the last projected offset and the high watermark', labelNames: ['topic', 'partition'], registers }),
    batchSize: new Histogram({ name: 'projector_batch_messages', help: 'Messages per flushed batch', buckets: [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000], registers }),
    batchStageDuration: new Histogram({
      name: 'projector_batch_stage_seconds',
      help: 'Wall time of one step of a batch (decode, dead_letters, read, fold, clickhouse, redis); waits for the sinks, and for concurrent flushes on the event loop, count in the step',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    batchDuration: new Histogram({ name: 'projector_batch_duration_seconds', help: 'Time to project one batch into both sinks', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    eventsProjected: new Counter({ name: 'projector_events_projected_total', help: 'Events projected, by type', labelNames: ['type'], registers }),
    deadLettered: new Counter({ name: 'projector_events_dead_lettered_total', help: 'Messages sent to the dead-letter topic, by reason', labelNames: ['reason'], registers }),
    seenSessions: new Counter({
      name: 'projector_seen_sessions_total',
      help: "Known sessions of projected batches, by where their events' seen-before answer came from: the worker's memo of the sessions it created, or a ClickHouse lookup",
      labelNames: ['source'],
      registers,
    }),
    memoForgotten: new Counter({
      name: 'projector_memo_forgotten_total',
      help: 'Times the worker dropped its memo of the sessions it created, because its partitions may have changed hands (a rebalance, a join, a refused commit, a stale fetch)',
      registers,
    }),
    sinkFailures: new Counter({ name: 'projector_sink_failures_total', help: 'Failed batch attempts, by sink and retriability', labelNames: ['sink', 'retriable'], registers }),
    lastEventTimestamp: new Gauge({ name: 'projector_last_event_timestamp_seconds', help: 'occurredAt of the newest projected event', registers }),
    lastBatchTimestamp: new Gauge({ name: 'projector_last_batch_timestamp_seconds', help: 'Wall-clock time of the last successful flush', registers }),
    sinkHealthy: new Gauge({ name: 'projector_sinks_healthy', help: '1 while the last flush succeeded, 0 while retrying a failed one', registers }),
  };
}
