import type { Cluster, Redis, Result } from 'ioredis';
import { APPLY_INTEGRATION_BATCH, HSET_IF_NEWER } from './redis-scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    applyIntegrationBatch(...args: (string | number)[]): Result<[string, string], Context>;
    hsetIfNewer(...args: (string | number)[]): Result<number, Context>;
  }
}

/** A standalone Redis or a Redis Cluster: everything here works on both. */
export type RedisClient = Redis | Cluster;

/** Registers the projection scripts (EVALSHA with automatic EVAL fallback, by ioredis). */
export function registerProjectionScripts(redis: RedisClient): void {
  redis.defineCommand('applyIntegrationBatch', { lua: APPLY_INTEGRATION_BATCH });
  redis.defineCommand('hsetIfNewer', { numberOfKeys: 1, lua: HSET_IF_NEWER });
}

/**
 * ReplyError is Redis answering; these few answers are about availability
 * (still loading its dump, a script running long, a cluster or failover in
 * progress), not about the command: the same command can succeed later.
 */
export function isAvailabilityReply(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|MOVED|ASK)\b/.test(error.message);
}

/** Errors from Redis that mean "down or busy", as opposed to a bug in a script. */
export function isRetriableRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (error.name === 'ReplyError') return isAvailabilityReply(error);
  return true;
}
