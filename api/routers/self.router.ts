import { loadStats } from '../../projections/stats/stats.queries.js';
import { IntegrationResponseSchema, type IntegrationResource } from '../../schemas/api/integration.js';
import { StatsResponseSchema } from '../../schemas/api/stats.js';
import { z } from '../../schemas/api/zod.js';
import { documented, integrationOf, routes, type RouterDeps } from '../route.js';

const NoQuery = z.object({}).strict();

/** The integration itself and its counters: both constant-time reads from Redis. */
export function selfRoutes(deps: RouterDeps & { rateLimits: Readonly<Record<string, number>>; rateWindowMs: number }) {
  const stats = routes.createRouteSpec({
    name: 'getStats',
    method: 'get',
    path: '/v1/stats',
    validate: { query: NoQuery },
    handler: async (ctx) => {
      const model = deps.readModel();
      ctx.body = { data: await loadStats(model.redis, model.keys, integrationOf(ctx.state)) };
    },
  });

  const integration = routes.createRouteSpec({
    name: 'getIntegration',
    method: 'get',
    path: '/v1/integration',
    validate: { query: NoQuery },
    handler: async (ctx) => {
      const model = deps.readModel();
      const resolved = ctx.state.integration!;
      const [doc, key] = await Promise.all([
        model.redis.hgetall(model.keys.integration(resolved.integrationId)),
        model.redis.hmget(model.keys.apiKey(resolved.keyHash), 'displayPrefix'),
      ]);
      const data: IntegrationResource = {
        id: resolved.integrationId,
        name: resolved.name,
        tier: resolved.tier as IntegrationResource['tier'],
        region: resolved.region as IntegrationResource['region'],
        status: resolved.status as IntegrationResource['status'],
        updatedAt: doc.updatedAt ?? null,
        apiKey: { id: resolved.keyId, displayPrefix: key[0] ?? null },
        rateLimit: { limit: deps.rateLimits[resolved.tier] ?? 0, windowSeconds: deps.rateWindowMs / 1000 },
      };
      ctx.body = { data };
    },
  });

  return [
    documented(stats, StatsResponseSchema, { tag: 'Stats', summary: 'Get high-level integration stats', description: 'Exact counters maintained by the projector; constant time.', authenticated: true }),
    documented(integration, IntegrationResponseSchema, { tag: 'Self', summary: 'Get the integration this API key resolved to', authenticated: true }),
  ];
}
