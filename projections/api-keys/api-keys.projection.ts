import type { IntegrationEvent } from '../../schemas/events/integration-events.js';
import type { RedisClient } from '../store/redis-client.js';
import type { RedisKeys } from '../store/redis-keys.js';

/**
 * The integrations topic into Redis: the integration document (name, tier,
 * region, status) and the key index (SHA-256 of a key -> integration, status).
 * Each hash keeps the stamp of the event that wrote it and ignores older ones,
 * so duplicates and out-of-order delivery converge. Raw keys never get here.
 */
export interface IntegrationDocument {
  integrationId: string;
  name: string;
  tier: string;
  region: string;
  status: string;
  updatedAt: string;
}

export interface ApiKeyDocument {
  integrationId: string;
  keyId: string;
  status: 'active' | 'revoked';
  displayPrefix: string;
}

function writesOf(event: IntegrationEvent, keys: RedisKeys): { key: string; fields: Record<string, string> } {
  switch (event.type) {
    case 'integration.upserted':
      return {
        key: keys.integration(event.integrationId),
        fields: { integrationId: event.integrationId, ...event.data, updatedAt: event.occurredAt },
      };
    case 'apikey.issued':
      return {
        key: keys.apiKey(event.data.keyHash),
        fields: { integrationId: event.integrationId, keyId: event.data.keyId, keyHash: event.data.keyHash, status: 'active', displayPrefix: event.data.displayPrefix },
      };
    case 'apikey.revoked':
      return {
        key: keys.apiKey(event.data.keyHash),
        fields: { integrationId: event.integrationId, keyId: event.data.keyId, keyHash: event.data.keyHash, status: 'revoked' },
      };
  }
}

export async function applyIntegrationEvents(redis: RedisClient, keys: RedisKeys, events: readonly IntegrationEvent[]): Promise<void> {
  // Separate commands, not one pipeline: on a Redis Cluster these keys live on different slots.
  await Promise.all(
    events.map((event) => {
      const { key, fields } = writesOf(event, keys);
      const args = Object.entries(fields).flat();
      return redis.hsetIfNewer(key, Date.parse(event.occurredAt), event.eventId, ...args);
    }),
  );
}
