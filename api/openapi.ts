import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import type { AnyZodObject, ZodTypeAny } from 'zod';
import { ErrorEnvelopeSchema } from '../schemas/api/common.js';
import { z } from '../schemas/api/zod.js';
import type { DocumentedRoute } from './route.js';

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed input: unknown parameter, invalid value or cursor',
  401: 'Missing, malformed, unknown or revoked API key',
  403: 'Integration suspended, or a key of another region',
  404: 'Not found',
  429: 'Rate limit exceeded; see Retry-After',
  500: 'Unexpected error; quote X-Request-ID',
  503: 'A backing store is unavailable (see Retry-After), or the probe is not ready',
};

const RATE_LIMIT_HEADERS = {
  'X-Request-ID': { description: 'Echoes a valid incoming X-Request-ID, or a new id', schema: { type: 'string' as const } },
  'x-isnotai-tier': { description: 'Tier of the integration the key resolved to', schema: { type: 'string' as const } },
  'X-RateLimit-Limit': { description: 'Requests allowed in the current window', schema: { type: 'integer' as const } },
  'X-RateLimit-Remaining': { description: 'Requests left in the current window', schema: { type: 'integer' as const } },
  'X-RateLimit-Reset': { description: 'Unix time (seconds) when the window resets', schema: { type: 'integer' as const } },
};

/** Query and path schemas may be refined objects; the document wants the object inside. */
function objectOf(schema: ZodTypeAny | undefined): AnyZodObject | undefined {
  let current: ZodTypeAny | undefined = schema;
  while (current && current._def.typeName === 'ZodEffects') current = (current._def as { schema: ZodTypeAny }).schema;
  return current && current._def.typeName === 'ZodObject' ? (current as AnyZodObject) : undefined;
}

/** `/v1/sessions/:sessionId` -> `/v1/sessions/{sessionId}` */
export const openApiPath = (koaPath: string): string => koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export interface ExtraPath {
  method: 'get';
  path: string;
  summary: string;
  tag: string;
  response: ZodTypeAny | { contentType: string; description: string };
  /** Error statuses the path can answer besides 500, which any path can. */
  errors?: number[];
}

/**
 * The OpenAPI 3 document, generated from the same zod schemas and route specs
 * the router validates with, so it cannot drift from what the server does.
 */
export function buildOpenApiDocument(routes: readonly DocumentedRoute[], extra: readonly ExtraPath[], info: { version: string; servers: string[] }) {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer aik_v1_...' });
  const apiKey = registry.registerComponent('securitySchemes', 'apiKeyHeader', { type: 'apiKey', in: 'header', name: 'x-api-key' });
  registry.register('ErrorEnvelope', ErrorEnvelopeSchema);

  for (const { spec, response, doc } of routes) {
    const errors = [...new Set([400, ...(doc.authenticated ? [401, 403, 429] : []), ...(doc.errors ?? []), 500, 503])].sort();
    registry.registerPath({
      method: 'get',
      path: openApiPath(String(spec.path)),
      operationId: spec.name,
      tags: [doc.tag],
      summary: doc.summary,
      ...(doc.description ? { description: doc.description } : {}),
      ...(doc.authenticated ? { security: [{ [bearer.name]: [] }, { [apiKey.name]: [] }] } : { security: [] }),
      request: {
        ...(objectOf(spec.validate?.query) ? { query: objectOf(spec.validate?.query)! } : {}),
        ...(objectOf(spec.validate?.params) ? { params: objectOf(spec.validate?.params)! } : {}),
      },
      responses: {
        200: { description: 'OK', headers: doc.authenticated ? RATE_LIMIT_HEADERS : { 'X-Request-ID': RATE_LIMIT_HEADERS['X-Request-ID'] }, content: { 'application/json': { schema: response } } },
        ...Object.fromEntries(errors.map((status) => [status, { description: ERROR_DESCRIPTIONS[status] ?? 'Error', content: { 'application/json': { schema: ErrorEnvelopeSchema } } }])),
      },
    });
  }
  for (const path of extra) {
    const isSchema = 'safeParse' in path.response;
    registry.registerPath({
      method: path.method,
      path: path.path,
      tags: [path.tag],
      summary: path.summary,
      security: [],
      responses: {
        200: isSchema
          ? { description: 'OK', content: { 'application/json': { schema: path.response as ZodTypeAny } } }
          : {
              description: (path.response as { description: string }).description,
              content: { [(path.response as { contentType: string }).contentType]: { schema: z.string() } },
            },
        ...Object.fromEntries(
          [...new Set([...(path.errors ?? []), 500])].sort().map((status) => [status, { description: ERROR_DESCRIPTIONS[status] ?? 'Error', content: { 'application/json': { schema: ErrorEnvelopeSchema } } }]),
        ),
      },
    });
  }
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Not AI Public REST API',
      version: info.version,
      description: 'Read-only, customer- and AI-agent-facing API over the data the Not AI platform collects. Every /v1 route needs an aik_v1_ key.',
    },
    servers: info.servers.map((url) => ({ url })),
  });
}
