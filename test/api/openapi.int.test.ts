/**
 * The OpenAPI document is the contract: it is a valid OpenAPI 3 document,
 * lists exactly what the server mounts, gives every operation its 200 and its
 * error responses in the ErrorEnvelope, declares both ways to present a key,
 * and real answers of the server (over events published through the broker)
 * validate against it: against the zod schema each route declares and
 * against the document's own JSON schema, with no field the document does not
 * name. Then Swagger UI renders it in headless Chromium.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Browser } from 'playwright-core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from '../../api/openapi.js';
import type { DocumentedRoute } from '../../api/route.js';
import { HealthSchema, ReadinessSchema, systemPaths, systemRouter } from '../../api/routers/system.router.js';
import { ERROR_CODES, ErrorEnvelopeSchema } from '../../schemas/api/common.js';
import { createTrafficGenerator } from '../../services/simulator/traffic.js';
import { launchChromium } from '../support/chromium.js';
import { eventually } from '../support/poll.js';
import { get, mountedRoutes, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

const { default: addFormats } = addFormatsModule;
const INTEGRATION = 'int_openapi';

/** Mounted by the system router but deliberately not operations of their own. */
const UNDOCUMENTED_SYSTEM_ROUTES: Record<string, string> = {
  '/healthz': 'alias of /health for probes that expect the name',
  '/swagger/init.js': 'asset of the Swagger UI page',
  '/swagger/:file': 'assets of the Swagger UI page',
};

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  summary?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; schema: Json }[];
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}

let stack: TestStack;
let side: ReadSide;
let key = '';
let routes: DocumentedRoute[] = [];
let doc: Document;
/** The document with every $ref inlined, for validating answers against it. */
let resolved: Document;
let validation: { valid: boolean; errors?: unknown; version: string };
const ids: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({ name: 'openapi' });
  side = await startReadSide(stack);
  key = (await provisionIntegration(stack, { integrationId: INTEGRATION, tier: 'enterprise' })).rawKey;
  const generator = createTrafficGenerator({ seed: 31, integrationIds: [INTEGRATION], startAt: new Date(Date.now() - 3_600_000), usersPerIntegration: 3, coursesPerIntegration: 3 });
  const sessions = Array.from({ length: 12 }, () => generator.nextSimulatedSession());
  await stack.publish(sessions.flatMap((s) => s.events));
  const events = sessions.reduce((n, s) => n + s.events.length, 0);
  await eventually(() => get(side.url, '/v1/stats', key), {
    until: (r) => r.status === 200 && r.body.data.events === events && r.body.data.sessions === sessions.length,
    what: 'fixture projected',
  });
  await stack.drained();
  const users = await eventually(() => get(side.url, '/v1/users', key), { until: (r) => r.status === 200 && r.body.data.length > 0 });
  await eventually(() => get(side.url, '/v1/courses', key), { until: (r) => r.status === 200 && r.body.data.length > 0 });
  ids.sessionId = sessions.find((s) => s.user !== null)!.sessionId;
  ids.userId = users.body.data[0].id;

  routes = mountedRoutes(stack);
  const res = await get(side.url, '/openapi/v3.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = res.body as unknown as Document;
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc) as unknown as Json);
  validation = { ...result, version: validator.version };
  resolved = validator.resolveRefs() as unknown as Document;
});

afterAll(async () => {
  await side?.stop();
  await stack?.stop();
});

function fill(koaPath: string): string {
  return koaPath.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    if (!ids[name]) throw new Error(`no fixture value for path parameter ${name}`);
    return encodeURIComponent(ids[name]);
  });
}

const operations = (): [string, string, Operation][] => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => [path, method, op] as [string, string, Operation]));

describe('the document', () => {
  it('validates as OpenAPI 3 (@seriousme/openapi-schema-validator)', () => {
    expect(validation.errors ?? []).toEqual([]);
    expect(validation.valid).toBe(true);
    expect(validation.version).toMatch(/^3\./);
    expect(Object.keys(resolved.paths)).toEqual(Object.keys(doc.paths));
  });

  it('lists exactly the routes the server mounts: every v1 route and the system paths, each a GET', () => {
    const expected = [...routes.map((r) => openApiPath(String(r.spec.path))), ...systemPaths.map((p) => p.path)].sort();
    expect(Object.keys(doc.paths).sort()).toEqual(expected);
    for (const [path, method] of operations()) expect(method, path).toBe('get');
    for (const { spec, doc: routeDoc } of routes) {
      const op = doc.paths[openApiPath(String(spec.path))]!.get!;
      expect(op.operationId).toBe(spec.name);
      expect(op.summary).toBe(routeDoc.summary);
    }
    const operationIds = operations().flatMap(([, , op]) => (op.operationId ? [op.operationId] : []));
    expect(new Set(operationIds).size).toBe(operationIds.length);

    // Every route the system router mounts is documented, or is a known helper of a documented one.
    const system = systemRouter({ registry: new Registry(), ready: async () => ({}), openapi: () => ({}), startedAt: 0, now: Date.now });
    for (const layer of system.stack) {
      if (layer.methods.length === 0) continue;
      const documentedPath = openApiPath(String(layer.path));
      expect(doc.paths[documentedPath] !== undefined || UNDOCUMENTED_SYSTEM_ROUTES[String(layer.path)] !== undefined, `${layer.path} is mounted but neither documented nor a known helper`).toBe(true);
    }
  });

  it('the contract of the session resource: exactly the fields of the published SessionResponse', () => {
    const session = resolved.paths['/v1/sessions/{sessionId}']!.get!.responses['200']!.content!['application/json']!.schema as Json;
    const data = (session.properties as Record<string, Json>).data!;
    expect(Object.keys(data.properties as Json).sort()).toEqual(
      ['id', 'createdAt', 'updatedAt', 'status', 'botScore', 'detectionFlags', 'pageUrl', 'userAgentSummary', 'userId', 'userName', 'userUrl'].sort(),
    );
    expect(doc.paths['/v1/sessions/{sessionId}']!.get!.parameters).toEqual([expect.objectContaining({ name: 'sessionId', in: 'path', required: true })]);
  });

  it('every operation answers 200 and its errors in the ErrorEnvelope', () => {
    const envelope = doc.components.schemas.ErrorEnvelope as { properties: { error: { properties: Record<string, Json>; required: string[] } }; required: string[] };
    expect(envelope.required).toEqual(['error']);
    expect(envelope.properties.error.required.sort()).toEqual(['code', 'details', 'message']);
    expect(envelope.properties.error.properties.code!.enum).toEqual([...ERROR_CODES]);

    const v1Paths = new Set(routes.map((r) => openApiPath(String(r.spec.path))));
    for (const [path, , op] of operations()) {
      const statuses = Object.keys(op.responses);
      expect(op.responses['200']?.content, `${path} 200`).toBeDefined();
      const errors = statuses.filter((s) => Number(s) >= 400);
      expect(errors.length, `${path} documents error responses`).toBeGreaterThan(0);
      for (const status of errors) {
        expect(op.responses[status]!.content?.['application/json']?.schema, `${path} ${status}`).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' });
      }
      expect(errors, `${path}`).toContain('500');
      if (v1Paths.has(path)) {
        expect(errors, path).toEqual(expect.arrayContaining(['400', '401', '403', '429']));
        if (path.includes('{')) expect(errors, `${path} has an id, so it can 404`).toContain('404');
      }
    }
    expect(Object.keys(doc.paths['/readyz']!.get!.responses)).toContain('503');
  });

  it('declares both key schemes, requires one of them on every /v1 operation and none on the system paths', async () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.apiKeyHeader).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    for (const [path, , op] of operations()) {
      if (path.startsWith('/v1/')) expect(op.security, path).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
      else expect(op.security, path).toEqual([]);
    }
    // And the server takes the key either way, and refuses without one.
    expect((await get(side.url, '/v1/integration', key)).status).toBe(200);
    expect((await get(side.url, '/v1/integration', undefined, { 'x-api-key': key })).status).toBe(200);
    expect((await get(side.url, '/v1/integration')).status).toBe(401);
  });
});

/** Keys of `value` the schema does not name, where the schema names its properties and allows no others. */
function undocumentedFields(value: unknown, schema: Json | undefined, at: string, out: string[]): string[] {
  if (!schema || value === null || typeof value !== 'object') return out;
  const parts = [schema, ...((schema.allOf as Json[] | undefined) ?? [])];
  if (Array.isArray(value)) {
    const items = parts.find((p) => p.items)?.items as Json | undefined;
    value.forEach((item, i) => undocumentedFields(item, items, `${at}[${i}]`, out));
    return out;
  }
  const properties = Object.assign({}, ...parts.map((p) => (p.properties as Json | undefined) ?? {})) as Record<string, Json>;
  const additional = parts.find((p) => p.additionalProperties !== undefined)?.additionalProperties as Json | boolean | undefined;
  for (const [field, child] of Object.entries(value as Json)) {
    if (properties[field]) undocumentedFields(child, properties[field], `${at}.${field}`, out);
    else if (additional && typeof additional === 'object') undocumentedFields(child, additional, `${at}.${field}`, out);
    else if (additional !== true && Object.keys(properties).length > 0) out.push(`${at}.${field}`);
  }
  return out;
}

/**
 * OpenAPI 3.0 schema objects as JSON Schema for Ajv: `nullable` becomes a null
 * alternative (and means nothing without a type, as for z.unknown()).
 */
function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const { nullable, ...rest } = schema as Json;
  const out: Json = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, k === 'example' || k === 'enum' ? v : toJsonSchema(v)]));
  if (nullable !== true) return out;
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'], ...(Array.isArray(out.enum) ? { enum: [...out.enum, null] } : {}) };
  if (out.type === undefined && Object.keys(out).every((k) => k === 'description' || k === 'example')) return out;
  return { anyOf: [out, { type: 'null' }] };
}

describe('real answers validate against the document', () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const compiled = new Map<string, ValidateFunction>();

  function schemaOf(path: string, status: string): Json {
    const schema = resolved.paths[path]?.get?.responses[status]?.content?.['application/json']?.schema;
    if (!schema) throw new Error(`${path} documents no JSON ${status}`);
    return schema;
  }

  function expectDocumented(path: string, status: string, body: unknown, what: string): void {
    const id = `${path} ${status}`;
    if (!compiled.has(id)) compiled.set(id, ajv.compile(toJsonSchema(schemaOf(path, status)) as Json));
    const validate = compiled.get(id)!;
    expect(validate(body) ? [] : validate.errors, `${what}: against the document's ${status} schema`).toEqual([]);
    expect(undocumentedFields(body, schemaOf(path, status), 'body', []), `${what}: fields the document does not name`).toEqual([]);
  }

  it('the checks bite: a wrong type and an undocumented field are caught', () => {
    const validate = ajv.compile(toJsonSchema(schemaOf('/v1/sessions/{sessionId}', '200')) as Json);
    expect(validate({ data: { id: 1 } })).toBe(false);
    const fine = { id: 's', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', status: 'bot', botScore: null, detectionFlags: [], pageUrl: null, userAgentSummary: null, userId: null, userName: null, userUrl: null };
    expect(validate({ data: fine })).toBe(true);
    expect(validate({ data: { ...fine, createdAt: 'yesterday' } })).toBe(false);
    expect(undocumentedFields({ data: { ...fine, integrationId: 'leak' } }, schemaOf('/v1/sessions/{sessionId}', '200'), 'body', [])).toEqual(['body.data.integrationId']);
  });

  it('every v1 route, with every value of its enum parameters and a second page: the zod response schema and the document schema', async () => {
    let checked = 0;
    for (const { spec, response } of routes) {
      const docPath = openApiPath(String(spec.path));
      const base = fill(String(spec.path));
      const params = resolved.paths[docPath]!.get!.parameters ?? [];
      const queries = [''];
      for (const p of params.filter((x) => x.in === 'query')) {
        const values = [p.schema, ...((p.schema.allOf as Json[] | undefined) ?? [])].flatMap((s) => (s.enum as string[] | undefined) ?? []);
        for (const value of values) queries.push(`${p.name}=${encodeURIComponent(value)}`);
      }
      if (params.some((p) => p.name === 'limit')) queries.push('limit=2');
      for (const query of queries) {
        const path = query ? `${base}?${query}` : base;
        const res = await get(side.url, path, key);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
        response.parse(res.body);
        expectDocumented(docPath, '200', res.body, `GET ${path}`);
        checked++;
        const next = (res.body.pagination as { nextCursor?: string | null } | undefined)?.nextCursor;
        if (next) {
          const page2 = await get(side.url, `${path}${query ? '&' : '?'}cursor=${encodeURIComponent(next)}`, key);
          expect(page2.status, `${path} page 2`).toBe(200);
          response.parse(page2.body);
          expectDocumented(docPath, '200', page2.body, `GET ${path} page 2`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(routes.length + 8);
  });

  it('the lists are not empty, so the item schemas were exercised', async () => {
    for (const { spec } of routes) {
      const res = await get(side.url, fill(String(spec.path)), key);
      if (Array.isArray(res.body.data)) expect(res.body.data.length, String(spec.path)).toBeGreaterThan(0);
    }
  });

  it('error answers of every v1 route validate against the ErrorEnvelope it documents', async () => {
    for (const { spec } of routes) {
      const docPath = openApiPath(String(spec.path));
      const base = fill(String(spec.path));
      const cases: [string, string | undefined, string][] = [
        [base, undefined, '401'],
        [`${base}?unknownParameter=1`, key, '400'],
      ];
      if (String(spec.path).includes(':')) cases.push([String(spec.path).replace(/:([A-Za-z0-9_]+)/g, 'zz_does_not_exist'), key, '404']);
      for (const [path, withKey, status] of cases) {
        const res = await get(side.url, path, withKey);
        expect(String(res.status), path).toBe(status);
        ErrorEnvelopeSchema.parse(res.body);
        expectDocumented(docPath, status, res.body, `GET ${path}`);
      }
    }
  });

  it('the system paths answer what they document', async () => {
    const health = await get(side.url, '/health');
    HealthSchema.parse(health.body);
    expectDocumented('/health', '200', health.body, '/health');
    const ready = await get(side.url, '/readyz');
    ReadinessSchema.parse(ready.body);
    expectDocumented('/readyz', '200', ready.body, '/readyz');
    const metrics = await get(side.url, '/metrics');
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(Object.keys(doc.paths['/metrics']!.get!.responses['200']!.content!)).toEqual(['text/plain']);
    const swagger = await get(side.url, '/swagger');
    expect(swagger.headers.get('content-type')).toMatch(/^text\/html/);
    expect(Object.keys(doc.paths['/swagger']!.get!.responses['200']!.content!)).toEqual(['text/html']);
  });
});

describe('Swagger UI', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('renders every operation in headless Chromium (screenshot in a temp dir)', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // A failed load is reported below with its address.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(message.text());
    });
    page.on('response', (response) => {
      // The browser asks for /favicon.ico on its own; the page does not reference one.
      if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) pageErrors.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(`${side.url}/swagger`, { waitUntil: 'load' });
    const count = operations().length;
    await expect.poll(() => page.locator('.opblock').count(), { timeout: 30_000 }).toBe(count);

    const text = (await page.locator('#swagger-ui').innerText()).replaceAll('\u200b', '');
    expect(text).toContain('/v1/sessions/{sessionId}');
    expect(text).toContain('Get a single tracking session by id');
    expect(text).toContain('Not AI Public REST API');
    const paths = (await page.locator('.opblock-summary-path').allInnerTexts()).map((t) => t.replaceAll('\u200b', '').trim());
    expect(paths.sort()).toEqual(Object.keys(doc.paths).sort());
    for (const { doc: routeDoc } of routes) expect(text).toContain(routeDoc.summary);
    // The Authorize button offers both schemes.
    await page.getByRole('button', { name: /Authorize/ }).first().click();
    await page.waitForSelector('.auth-container');
    const dialog = await page.locator('.modal-ux').innerText();
    expect(dialog).toContain('bearerAuth');
    expect(dialog).toContain('apiKeyHeader');
    await page.locator('.modal-ux .close-modal').click();

    const dir = await mkdtemp(join(tmpdir(), 'notai-swagger-'));
    const overview = join(dir, 'swagger.png');
    await page.screenshot({ path: overview, fullPage: true });
    // One operation opened, with its parameters and responses.
    await page.locator('#operations-Sessions-getSession .opblock-summary').click();
    await page.waitForSelector('#operations-Sessions-getSession .parameters');
    const opened = join(dir, 'swagger-getSession.png');
    await page.locator('#operations-Sessions-getSession').screenshot({ path: opened });
    console.log(`Swagger UI screenshots: ${overview} ${opened}`);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
