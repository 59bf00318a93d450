import { collectDefaultMetrics, Registry } from 'prom-client';

/** One registry per process, with Node's default metrics (heap, RSS, event-loop lag, GC). */
export function createMetricsRegistry(labels: Record<string, string>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}
