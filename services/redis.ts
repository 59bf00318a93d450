import { Cluster, Redis } from 'ioredis';
import { registerProjectionScripts, type RedisClient } from '../projections/store/redis-client.js';

export interface RedisConfig {
  url: string;
  clusterNodes: string[] | undefined;
}

export interface RedisClientOptions {
  /**
   * Coalesce the commands issued in one event-loop turn into one write (per
   * cluster node). The API wants it: each request issues small commands from
   * many concurrent requests, and one socket write per command was the largest
   * CPU cost of a point read. Command order per connection is unchanged.
   */
  autoPipelining?: boolean;
}

/**
 * A Redis client that surfaces an outage as an error quickly (one retry per
 * request), so the projector holds and retries its batch. The offline queue
 * stays on only so commands issued while the first connection is being made
 * wait for it instead of failing.
 */
export function createRedis(config: RedisConfig, options: RedisClientOptions = {}): RedisClient {
  const common = {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2_000),
  };
  const enableAutoPipelining = options.autoPipelining ?? false;
  const client: RedisClient = config.clusterNodes
    ? new Cluster(
        config.clusterNodes.map((n) => {
          const [host, port] = n.split(':');
          return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
        }),
        { redisOptions: common, clusterRetryStrategy: common.retryStrategy, enableAutoPipelining },
      )
    : new Redis(config.url, { ...common, enableAutoPipelining });
  registerProjectionScripts(client);
  // Errors surface on the commands that fail; the event itself must not crash the process.
  client.on('error', () => undefined);
  return client;
}
