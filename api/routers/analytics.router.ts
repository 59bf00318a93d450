import { analyticsReport, resolvePeriod } from '../../projections/analytics/analytics.queries.js';
import { AnalyticsQuery, AnalyticsResponseSchema } from '../../schemas/api/analytics.js';
import { invalidParameter } from '../errors.js';
import { documented, integrationOf, routes, type RouterDeps } from '../route.js';

export function analyticsRoutes(deps: RouterDeps) {
  const analytics = routes.createRouteSpec({
    name: 'getAnalytics',
    method: 'get',
    path: '/v1/analytics',
    validate: { query: AnalyticsQuery },
    handler: async (ctx) => {
      const { since, until, granularity, breakdown } = ctx.request.query;
      const resolved = resolvePeriod({ since, until, granularity }, deps.now());
      if (!resolved.ok) throw invalidParameter(resolved.parameter, resolved.message, resolved.details);
      ctx.body = { data: await analyticsReport(deps.readModel(), integrationOf(ctx.state), resolved.period, breakdown ?? null) };
    },
  });

  return [
    documented(analytics, AnalyticsResponseSchema, {
      tag: 'Analytics',
      summary: 'Aggregated analytics for the integration',
      description:
        'Sessions (by start time and latest verdict) and events per hour, day or week (UTC), every bucket present and zero-filled, ' +
        'optionally broken down by detection flag or event type, with a summary that totals the series exactly and compares it with the previous period of equal length. ' +
        '`since` and `until` widen to bucket boundaries; the answer echoes the period it covers.',
      authenticated: true,
    }),
  ];
}
