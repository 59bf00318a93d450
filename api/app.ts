import Koa, { type Middleware } from 'koa';
import compose from 'koa-compose';
import zodRouter from 'koa-zod-router';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ReadModel } from '../projections/sessions/sessions.queries.js';
import type { RedisClient } from '../projections/store/redis-client.js';
import { createKeyResolver } from './auth/key-resolver.js';
import { createCursorCodec } from './cursor.js';
import { accessLog } from './middleware/access-log.js';
import { authenticate } from './middleware/authenticate.js';
import { errorEnvelope } from './middleware/error-envelope.js';
import { rateLimit } from './middleware/rate-limit.js';
import { requestId } from './middleware/request-id.js';
import { usageMeter } from './middleware/usage-meter.js';
import { buildOpenApiDocument } from './openapi.js';
import type { DocumentedRoute } from './route.js';
import { analyticsRoutes } from './routers/analytics.router.js';
import { courseRoutes } from './routers/courses.router.js';
import { selfRoutes } from './routers/self.router.js';
import { sessionRoutes } from './routers/sessions.router.js';
import { systemPaths, systemRouter, type ReadinessCheck } from './routers/system.router.js';
import { usageRoutes } from './routers/usage.router.js';
import { userRoutes } from './routers/users.router.js';
import type { ApiState } from './state.js';
import { validationErrorHandler } from './validation.js';

export interface ApiConfig {
  region: 'us' | 'eu';
  /** Signs cursors; every replica must share it so any replica continues any cursor. */
  cursorSecret: string;
  redisPrefix: string;
  rateLimit: { windowMs: number; limits: Readonly<Record<string, number>> };
  /** How long a key lookup is cached: the upper bound on a revoked key still working. */
  keyCacheMs: number;
  publicUrls: string[];
  version: string;
}

export interface ApiDeps {
  readModel: () => ReadModel;
  /** The API's own Redis state (rate limits, usage); the same server as the read model's in practice. */
  redis: RedisClient;
  registry: Registry;
  logger: Logger;
  ready: ReadinessCheck;
  now: () => number;
}

/** Every /v1 route in one list: the router mounts them and the OpenAPI document describes exactly these. */
export function v1Routes(config: ApiConfig, deps: ApiDeps): DocumentedRoute[] {
  const routerDeps = { readModel: deps.readModel, cursors: createCursorCodec(config.cursorSecret), now: deps.now };
  return [
    ...sessionRoutes(routerDeps),
    ...userRoutes(routerDeps),
    ...courseRoutes(routerDeps),
    ...analyticsRoutes(routerDeps),
    ...selfRoutes({ ...routerDeps, rateLimits: config.rateLimit.limits, rateWindowMs: config.rateLimit.windowMs }),
    ...usageRoutes({ ...routerDeps, redis: deps.redis, prefix: config.redisPrefix }),
  ];
}

export function createApp(config: ApiConfig, deps: ApiDeps): Koa<ApiState> {
  const app = new Koa<ApiState>();
  app.proxy = false;
  app.silent = true;

  const routes = v1Routes(config, deps);
  let openapi: unknown;
  const openapiDocument = () => (openapi ??= buildOpenApiDocument(routes, systemPaths, { version: config.version, servers: config.publicUrls }));

  const v1 = zodRouter<ApiState>({ zodRouter: { validationErrorHandler } });
  for (const { spec } of routes) v1.register(spec as Parameters<typeof v1.register>[0]);

  const resolveKey = createKeyResolver({ redis: deps.redis, keys: () => deps.readModel().keys, now: deps.now }, { cacheMs: config.keyCacheMs, maxEntries: 10_000 });
  const guard = [
    authenticate(resolveKey, config.region),
    usageMeter({ redis: deps.redis, now: deps.now, prefix: config.redisPrefix, logger: deps.logger }),
    rateLimit({ ...config.rateLimit, prefix: config.redisPrefix }, { redis: deps.redis, now: deps.now }),
  ];
  const system = systemRouter({ registry: deps.registry, ready: deps.ready, openapi: openapiDocument, startedAt: deps.now(), now: deps.now });

  app.use(requestId(deps.logger));
  app.use(accessLog(deps.registry));
  app.use(errorEnvelope());
  app.use(system.routes());
  app.use(system.allowedMethods({ throw: true }));
  // Unknown /v1 paths still need a key: an unauthenticated caller learns nothing about which routes exist.
  const v1Chain = compose([...guard, v1.routes() as unknown as Middleware<ApiState>, v1.allowedMethods({ throw: true }) as unknown as Middleware<ApiState>]);
  app.use((ctx, next) => (ctx.path === '/v1' || ctx.path.startsWith('/v1/') ? v1Chain(ctx, next) : next()));
  return app;
}
