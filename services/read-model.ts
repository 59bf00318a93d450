import type { ReadModel } from '../projections/sessions/sessions.queries.js';
import type { ClickHouseGateway } from '../projections/store/clickhouse-gateway.js';
import { parseGenerations, sameGenerations, uniformGenerations, type Generations } from '../projections/store/generations.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import { projectionKeys, routingKeys } from '../projections/store/redis-keys.js';
import { tableNames } from '../projections/store/table-set.js';
import type { Logger } from './logger.js';

export interface Routing {
  /** The serving generation of every projection. */
  generations: Generations;
  /** The id of the rebuild holding the handoff lease, if one does: projector workers stand still meanwhile. */
  handoff: string | null;
}

/** One round trip: both keys share a hash tag. */
export async function readRouting(redis: RedisClient, prefix: string): Promise<Routing> {
  const keys = routingKeys(prefix);
  const [[hashError, fields], [leaseError, lease]] = ((await redis.multi().hgetall(keys.generations).get(keys.handoff).exec()) ?? []) as [
    [Error | null, Record<string, string>],
    [Error | null, string | null],
  ];
  if (hashError) throw hashError;
  if (leaseError) throw leaseError;
  const legacy = Object.keys(fields).length === 0 ? Number((await redis.get(keys.legacy)) ?? '1') : 1;
  return { generations: parseGenerations(fields, Number.isInteger(legacy) && legacy >= 1 ? legacy : 1), handoff: lease };
}

export function readModelOf(deps: { clickhouse: ClickHouseGateway; redis: RedisClient }, prefix: string, generations: Generations): ReadModel {
  return { clickhouse: deps.clickhouse, redis: deps.redis, tables: tableNames(generations), keys: projectionKeys(prefix, generations) };
}

/**
 * Which generation of each projection the API reads. A rebuild moves a
 * projection's pointer in Redis when its new generation has taken over; every
 * replica picks it up within `refreshMs`, so reads switch without a restart.
 */
export function createReadModelResolver(
  deps: { clickhouse: ClickHouseGateway; redis: RedisClient; logger: Logger },
  options: { prefix: string; refreshMs: number },
) {
  let generations = uniformGenerations(1);
  let model: ReadModel = readModelOf(deps, options.prefix, generations);
  let timer: NodeJS.Timeout | null = null;

  async function refresh(): Promise<void> {
    const next = (await readRouting(deps.redis, options.prefix)).generations;
    if (!sameGenerations(next, generations)) {
      deps.logger.info({ from: generations, to: next }, 'switching reads to new projection generations');
      generations = next;
      model = readModelOf(deps, options.prefix, next);
    }
  }

  return {
    current: (): ReadModel => model,
    generations: (): Generations => generations,
    async start(): Promise<void> {
      await refresh();
      timer = setInterval(() => refresh().catch((err: unknown) => deps.logger.warn({ err }, 'could not read the serving generations')), options.refreshMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
    },
  };
}
