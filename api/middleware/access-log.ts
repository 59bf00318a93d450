import type { Middleware } from 'koa';
import { Histogram, type Registry } from 'prom-client';
import type { ApiState } from '../state.js';

/**
 * One log line and one histogram observation per request, labelled by route
 * template (never the raw path, so ids do not explode the label set). Sits
 * outside the error envelope so it sees the final status.
 */
export function accessLog(registry: Registry): Middleware<ApiState> {
  // Several app instances may share one registry (tests, replicas in one process): register the histogram once.
  const existing = registry.getSingleMetric('http_request_duration_seconds');
  const duration = (existing as Histogram<'method' | 'route' | 'status'> | undefined) ?? new Histogram({
    name: 'http_request_duration_seconds',
    help: 'API request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const route = typeof matched === 'string' ? matched : 'unmatched';
      duration.observe({ method: ctx.method, route, status: String(ctx.status) }, seconds);
      const line = { method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 10_000) / 10, integrationId: ctx.state.integration?.integrationId };
      if (ctx.status >= 500) ctx.state.log.error(line, 'request failed');
      else ctx.state.log.info(line, 'request');
    }
  };
}
