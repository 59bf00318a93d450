import { createHash } from 'node:crypto';

/**
 * The API key format (`aik_v1_` + 40 base62 characters) and the one hash by
 * which keys are known anywhere: minted by the key tool, indexed by the
 * projector, resolved by the API.
 */
export const API_KEY_PREFIX = 'aik_v1_';
export const API_KEY_BODY_LENGTH = 40;
export const API_KEY_PATTERN = /^aik_v1_[A-Za-z0-9]{40}$/;

export function hashApiKey(rawKey: string): string {
  return createHash('sha256').update(rawKey, 'utf8').digest('hex');
}

export function isWellFormedApiKey(value: unknown): value is string {
  return typeof value === 'string' && API_KEY_PATTERN.test(value);
}
