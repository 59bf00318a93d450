import type { RedisClient } from '../../projections/store/redis-client.js';
import { apiKeys } from '../../projections/store/redis-keys.js';
import { MAX_USAGE_DAYS, UsageQuery, UsageResponseSchema, type Usage } from '../../schemas/api/usage.js';
import { invalidParameter } from '../errors.js';
import { usageDay } from '../middleware/usage-meter.js';
import { documented, integrationOf, routes, type RouterDeps } from '../route.js';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;

type Counts = Usage['total'];
const emptyCounts = (): Counts => ({ requests: 0, byEndpoint: {}, byStatus: {} });

function addHash(into: Counts, hash: Record<string, string>): void {
  for (const [field, raw] of Object.entries(hash)) {
    const n = Number(raw);
    if (field === 'total') into.requests += n;
    else if (field.startsWith('endpoint:')) into.byEndpoint[field.slice(9)] = (into.byEndpoint[field.slice(9)] ?? 0) + n;
    else if (field.startsWith('status:')) into.byStatus[field.slice(7)] = (into.byStatus[field.slice(7)] ?? 0) + n;
  }
}

/** One Redis hash per integration and day, read with a pipeline: at most a year of days per request. */
async function loadUsage(redis: RedisClient, prefix: string, integrationId: string, days: string[]): Promise<Usage['days']> {
  const keys = apiKeys(prefix);
  const pipeline = redis.pipeline();
  for (const day of days) pipeline.hgetall(keys.usageDay(integrationId, day));
  const results = (await pipeline.exec()) ?? [];
  return days.map((date, i) => {
    const [error, hash] = results[i] ?? [null, {}];
    if (error) throw error;
    const counts = emptyCounts();
    addHash(counts, (hash ?? {}) as Record<string, string>);
    return { date, ...counts };
  });
}

export function usageRoutes(deps: RouterDeps & { redis: RedisClient; prefix: string }) {
  const usage = routes.createRouteSpec({
    name: 'getUsage',
    method: 'get',
    path: '/v1/usage',
    validate: { query: UsageQuery },
    handler: async (ctx) => {
      const today = Date.parse(usageDay(deps.now()));
      const until = ctx.request.query.until ? Date.parse(usageDay(ctx.request.query.until.getTime())) : today;
      const since = ctx.request.query.since ? Date.parse(usageDay(ctx.request.query.since.getTime())) : until - (DEFAULT_DAYS - 1) * DAY_MS;
      if (since > until) throw invalidParameter('since', 'must not be after until');
      const count = (until - since) / DAY_MS + 1;
      if (count > MAX_USAGE_DAYS) throw invalidParameter('since', `at most ${MAX_USAGE_DAYS} days per request`, { days: count });
      const days = Array.from({ length: count }, (_, i) => usageDay(since + i * DAY_MS));
      const perDay = await loadUsage(deps.redis, deps.prefix, integrationOf(ctx.state), days);
      const total = emptyCounts();
      for (const day of perDay) {
        total.requests += day.requests;
        for (const [k, v] of Object.entries(day.byEndpoint)) total.byEndpoint[k] = (total.byEndpoint[k] ?? 0) + v;
        for (const [k, v] of Object.entries(day.byStatus)) total.byStatus[k] = (total.byStatus[k] ?? 0) + v;
      }
      ctx.body = { data: { period: { since: days[0]!, until: days[days.length - 1]! }, total, days: perDay } satisfies Usage };
    },
  });
  return [
    documented(usage, UsageResponseSchema, {
      tag: 'Usage',
      summary: 'Get API consumption metrics for the integration over a date range',
      description: 'Requests per day, per endpoint and per status, metered by the API itself (UTC days).',
      authenticated: true,
    }),
  ];
}
