import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Router from '@koa/router';
import type { Registry } from 'prom-client';
import { z } from '../../schemas/api/zod.js';
import { ApiError } from '../errors.js';
import type { ExtraPath } from '../openapi.js';
import type { ApiState } from '../state.js';

export type ReadinessCheck = () => Promise<Record<string, boolean>>;

export const HealthSchema = z.object({ data: z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }) }).openapi('Health');
export const ReadinessSchema = z.object({ data: z.object({ status: z.literal('ready'), checks: z.record(z.boolean()) }) }).openapi('Readiness');

export const systemPaths: ExtraPath[] = [
  { method: 'get', path: '/health', tag: 'Health', summary: 'Health probe (liveness; no key needed)', response: HealthSchema },
  { method: 'get', path: '/readyz', tag: 'Health', summary: 'Readiness probe: 503 until Redis and ClickHouse answer', response: ReadinessSchema, errors: [503] },
  { method: 'get', path: '/metrics', tag: 'Health', summary: 'Prometheus metrics', response: { contentType: 'text/plain', description: 'Prometheus text format' } },
  { method: 'get', path: '/openapi/v3.json', tag: 'Spec', summary: 'This OpenAPI 3 document', response: { contentType: 'application/json', description: 'OpenAPI 3 document' } },
  { method: 'get', path: '/swagger', tag: 'Spec', summary: 'Swagger UI', response: { contentType: 'text/html', description: 'Swagger UI page' } },
];

const SWAGGER_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

const SWAGGER_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Not AI Public REST API</title><link rel="stylesheet" href="/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/swagger/init.js"></script>
</body></html>`;

/**
 * Where swagger-ui-dist keeps its files, found without loading the package: its
 * entry point evaluates the 1.4 MB browser bundle in Node (about 40 MB resident
 * in every API process) only to export this path.
 */
const swaggerUiDir = (): string => dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const SWAGGER_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi/v3.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: false });`;

/** Unauthenticated routes: probes, metrics and the spec. */
export function systemRouter(deps: { registry: Registry; ready: ReadinessCheck; openapi: () => unknown; startedAt: number; now: () => number }) {
  const router = new Router<ApiState>();
  const assets = new Map(Object.entries(SWAGGER_ASSETS).map(([file, type]) => [file, { type, body: readFileSync(join(swaggerUiDir(), file)) }]));

  const health: Router.Middleware<ApiState> = (ctx) => {
    ctx.body = { data: { status: 'ok', uptimeSeconds: Math.round((deps.now() - deps.startedAt) / 1000) } };
  };
  router.get('/health', health);
  router.get('/healthz', health);
  router.get('/readyz', async (ctx) => {
    const checks = await deps.ready();
    if (!Object.values(checks).every(Boolean)) throw new ApiError(503, 'service_unavailable', 'not ready', { checks });
    ctx.body = { data: { status: 'ready', checks } };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.registry.contentType;
    ctx.body = await deps.registry.metrics();
  });
  router.get('/openapi/v3.json', (ctx) => {
    ctx.body = deps.openapi();
  });
  router.get('/swagger', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = SWAGGER_PAGE;
  });
  router.get('/swagger/init.js', (ctx) => {
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.body = SWAGGER_INIT;
  });
  router.get('/swagger/:file', (ctx) => {
    const asset = assets.get(ctx.params.file ?? '');
    if (!asset) throw new ApiError(404, 'not_found', 'no such asset', { path: ctx.path });
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = asset.body;
  });
  return router;
}
