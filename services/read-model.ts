import type { ReadModel } from '../projections/sessions/sessions.queries.js';
import type { ClickHouseGateway } from '../projections/store/clickhouse-gateway.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import { projectionKeys, servingGenerationKey } from '../projections/store/redis-keys.js';
import { tableNames } from '../projections/store/table-set.js';
import type { Logger } from './logger.js';

/**
 * Which generation of the projections the API reads. A rebuild writes the
 * pointer in Redis when the new generation has caught up; every replica picks
 * it up within `refreshMs`, so reads switch without a restart.
 */
export function createReadModelResolver(
  deps: { clickhouse: ClickHouseGateway; redis: RedisClient; logger: Logger },
  options: { prefix: string; refreshMs: number },
) {
  let generation = 1;
  let model: ReadModel = build(1);
  let timer: NodeJS.Timeout | null = null;

  function build(g: number): ReadModel {
    return { clickhouse: deps.clickhouse, redis: deps.redis, tables: tableNames(g), keys: projectionKeys(options.prefix, g) };
  }

  async function refresh(): Promise<void> {
    const raw = await deps.redis.get(servingGenerationKey(options.prefix));
    const next = raw === null ? 1 : Number(raw);
    if (Number.isInteger(next) && next >= 1 && next !== generation) {
      deps.logger.info({ from: generation, to: next }, 'switching reads to a new projection generation');
      generation = next;
      model = build(next);
    }
  }

  return {
    current: (): ReadModel => model,
    generation: (): number => generation,
    async start(): Promise<void> {
      await refresh();
      timer = setInterval(() => refresh().catch((err: unknown) => deps.logger.warn({ err }, 'could not read the serving generation')), options.refreshMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
    },
  };
}

export async function readServingGeneration(redis: RedisClient, prefix: string): Promise<number> {
  const raw = await redis.get(servingGenerationKey(prefix));
  return raw === null ? 1 : Number(raw);
}
