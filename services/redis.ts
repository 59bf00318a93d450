import { Cluster, Redis } from 'ioredis';
import { registerProjectionScripts, type RedisClient } from '../projections/store/redis-client.js';

export interface RedisConfig {
  url: string;
  clusterNodes: string[] | undefined;
}

/**
 * A Redis client that fails fast while Redis is down (no offline queue, one
 * retry per request), so a batch sees the outage as an error and is held and
 * retried by the projector instead of piling commands up in memory.
 */
export function createRedis(config: RedisConfig): RedisClient {
  const common = {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2_000),
  };
  const client: RedisClient = config.clusterNodes
    ? new Cluster(
        config.clusterNodes.map((n) => {
          const [host, port] = n.split(':');
          return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
        }),
        { redisOptions: common, clusterRetryStrategy: common.retryStrategy },
      )
    : new Redis(config.url, common);
  registerProjectionScripts(client);
  // Errors surface on the commands that fail; the event itself must not crash the process.
  client.on('error', () => undefined);
  return client;
}
