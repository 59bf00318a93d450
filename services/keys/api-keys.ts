import { API_KEY_BODY_LENGTH, API_KEY_PATTERN, API_KEY_PREFIX, hashApiKey, isWellFormedApiKey } from '../../schemas/api-key.js';
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import {
  ApiKeyIssuedSchema,
  ApiKeyRevokedSchema,
  IntegrationUpsertedSchema,
  type ApiKeyIssued,
  type ApiKeyRevoked,
  type IntegrationStatus,
  type IntegrationUpserted,
  type Region,
  type Tier,
} from '../../schemas/events/integration-events.js';

/**
 * API keys: minting, hashing, and the integration-topic events that announce
 * them. Only the SHA-256 of a key ever leaves this module; the raw key is
 * returned to the caller once, to be shown to its owner and then forgotten.
 */

export { API_KEY_BODY_LENGTH, API_KEY_PATTERN, API_KEY_PREFIX, hashApiKey, isWellFormedApiKey };

export type RandomBytes = (size: number) => Buffer;

export interface MintedApiKey {
  /** Shown once to the key's owner; never logged, stored or published. */
  rawKey: string;
  keyId: string;
  keyHash: string;
  displayPrefix: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 248 = 4 × 62: bytes at or above it are dropped, so every character is equally likely (no modulo bias). */
const UNBIASED_LIMIT = 248;

function randomBase62(length: number, randomBytes: RandomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      if (byte >= UNBIASED_LIMIT) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** 40 base62 characters carry ~238 bits; the key id is separate randomness, so it reveals nothing about the key. */
export function mintApiKey(randomBytes: RandomBytes = cryptoRandomBytes): MintedApiKey {
  const body = randomBase62(API_KEY_BODY_LENGTH, randomBytes);
  const rawKey = `${API_KEY_PREFIX}${body}`;
  return {
    rawKey,
    keyId: `key_${randomBytes(10).toString('hex')}`,
    keyHash: hashApiKey(rawKey),
    displayPrefix: `${API_KEY_PREFIX}${body.slice(0, 4)}`,
  };
}

export interface EventDeps {
  /** Epoch milliseconds; injected so tests and replays control occurredAt. */
  now: () => number;
  randomBytes?: RandomBytes;
}

function envelope(integrationId: string, deps: EventDeps) {
  const bytes = (deps.randomBytes ?? cryptoRandomBytes)(16);
  return { eventId: `evt_${bytes.toString('hex')}`, schemaVersion: 1 as const, integrationId, occurredAt: new Date(deps.now()).toISOString() };
}

export interface IntegrationInput {
  integrationId: string;
  name: string;
  tier: Tier;
  region: Region;
  status: IntegrationStatus;
}

/** Builders validate against the contract, so a bad id or name fails here and never reaches the topic. */
export function buildIntegrationUpserted(input: IntegrationInput, deps: EventDeps): IntegrationUpserted {
  const { integrationId, name, tier, region, status } = input;
  return IntegrationUpsertedSchema.parse({ ...envelope(integrationId, deps), type: 'integration.upserted', data: { name, tier, region, status } });
}

export function buildApiKeyIssued(integrationId: string, key: Pick<MintedApiKey, 'keyId' | 'keyHash' | 'displayPrefix'>, deps: EventDeps): ApiKeyIssued {
  const { keyId, keyHash, displayPrefix } = key;
  return ApiKeyIssuedSchema.parse({ ...envelope(integrationId, deps), type: 'apikey.issued', data: { keyId, keyHash, displayPrefix } });
}

export function buildApiKeyRevoked(integrationId: string, key: { keyId: string; keyHash: string }, deps: EventDeps): ApiKeyRevoked {
  const { keyId, keyHash } = key;
  return ApiKeyRevokedSchema.parse({ ...envelope(integrationId, deps), type: 'apikey.revoked', data: { keyId, keyHash } });
}
