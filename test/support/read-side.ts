import type { IntegrationUpserted } from '../../schemas/events/integration-events.js';
import { Registry } from 'prom-client';
import { v1Routes } from '../../api/app.js';
import { apiConfig, createApiServer, type ApiServer } from '../../services/api-server.js';
import { buildApiKeyIssued, buildApiKeyRevoked, buildIntegrationUpserted, mintApiKey, type MintedApiKey } from '../../services/keys/api-keys.js';
import { liveProjector } from '../../services/generation-follower.js';
import type { ProjectorWorker } from '../../services/projector-worker.js';
import { createReadModelResolver } from '../../services/read-model.js';
import { createRedis } from '../../services/redis.js';
import { storesReady } from '../../services/runtime.js';
import type { TestStack } from './stack.js';

export interface ReadSide {
  api: ApiServer;
  worker: ProjectorWorker;
  url: string;
  stop(): Promise<void>;
}

/** A projector worker and an API server over a test stack, in this process. */
export async function startReadSide(stack: TestStack, options: { worker?: boolean } = {}): Promise<ReadSide> {
  const readModel = createReadModelResolver({ clickhouse: stack.clickhouse, redis: stack.redis, logger: stack.logger }, { prefix: stack.config.redis.keyPrefix, refreshMs: 500 });
  await readModel.start();
  const worker = liveProjector(stack.config, { ...stack, now: Date.now }, { pollMs: 500 });
  if (options.worker !== false) await worker.start();
  // The API gets a client of its own, auto-pipelined as in the API process, so the suites exercise what it runs.
  const apiRedis = createRedis(stack.config.redis, { autoPipelining: true });
  const apiModel = () => ({ ...readModel.current(), redis: apiRedis });
  const api = createApiServer(stack.config, { readModel: apiModel, redis: apiRedis, registry: stack.registry, logger: stack.logger, ready: storesReady(stack), now: Date.now });
  await api.start();
  return {
    api,
    worker,
    url: api.url(),
    async stop() {
      await api.stop();
      if (options.worker !== false) await worker.stop();
      await readModel.stop();
      apiRedis.disconnect();
    },
  };
}

export type IntegrationSpec = Pick<IntegrationUpserted['data'], 'tier'> & Partial<Omit<IntegrationUpserted['data'], 'tier'>> & { integrationId: string };

/** Publishes an integration and a fresh key for it, as the dashboard would; returns the raw key. */
export async function provisionIntegration(stack: TestStack, spec: IntegrationSpec): Promise<MintedApiKey> {
  const key = mintApiKey();
  const deps = { now: Date.now };
  await stack.publish([
    buildIntegrationUpserted(
      { integrationId: spec.integrationId, name: spec.name ?? spec.integrationId, tier: spec.tier, region: spec.region ?? stack.config.region, status: spec.status ?? 'active' },
      deps,
    ),
    buildApiKeyIssued(spec.integrationId, key, deps),
  ]);
  return key;
}

export async function revokeKey(stack: TestStack, integrationId: string, key: MintedApiKey): Promise<void> {
  await stack.publish([buildApiKeyRevoked(integrationId, key, { now: Date.now })]);
}

export async function setIntegration(stack: TestStack, spec: IntegrationSpec & { status: 'active' | 'suspended' }): Promise<void> {
  await stack.publish([
    buildIntegrationUpserted({ integrationId: spec.integrationId, name: spec.name ?? spec.integrationId, tier: spec.tier, region: spec.region ?? stack.config.region, status: spec.status }, { now: Date.now }),
  ]);
}

/** GET with a key; returns status, headers and parsed JSON. */
export async function get(base: string, path: string, key?: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, { headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (metrics, swagger page): the text itself
  }
  return { status: response.status, headers: response.headers, body: body as Record<string, any> };
}

/** The /v1 route specs exactly as the server mounts and documents them; only the specs are read, no handler runs. */
export function mountedRoutes(stack: TestStack) {
  const unused = () => {
    throw new Error('not used');
  };
  return v1Routes(apiConfig(stack.config), { readModel: unused, redis: stack.redis, registry: new Registry(), logger: stack.logger, ready: async () => ({}), now: Date.now });
}
