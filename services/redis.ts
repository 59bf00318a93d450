import { Cluster, Redis } from 'ioredis';
import { registerProjectionScripts, type RedisClient } from '../projections/store/redis-client.js';

export interface RedisConfig {
  url: string;
  clusterNodes: string[] | undefined;
}

/**
 * A Redis client that surfaces an outage as an error quickly (one retry per
 * request), so the projector holds and retries its batch. The offline queue
 * stays on only so commands issued while the first connection is being made
 * wait for it instead of failing.
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
