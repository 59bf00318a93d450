import type { Middleware } from 'koa';
import { API_KEY_PATTERN } from '../../schemas/api-key.js';
import type { KeyResolver } from '../auth/key-resolver.js';
import { ApiError } from '../errors.js';
import type { ApiState } from '../state.js';

const STATUS_BY_REASON = { invalid_api_key: 401, revoked_api_key: 401, integration_suspended: 403 } as const;
const MESSAGES = {
  invalid_api_key: 'the API key is not valid',
  revoked_api_key: 'the API key has been revoked',
  integration_suspended: 'the integration this key belongs to is suspended',
} as const;

/** The key from `Authorization: Bearer ...` or `x-api-key`; presenting two different keys is refused. */
function presentedKey(authorization: string, headerKey: string): string | null {
  let bearer: string | null = null;
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ApiError(401, 'malformed_api_key', 'Authorization must be "Bearer aik_v1_..."', { header: 'authorization' });
    bearer = match[1]!;
  }
  const key = headerKey.trim() || null;
  if (bearer && key && bearer !== key) throw new ApiError(401, 'malformed_api_key', 'two different API keys were presented', {});
  return bearer ?? key;
}

export function authenticate(resolve: KeyResolver, region: string): Middleware<ApiState> {
  return async (ctx, next) => {
    const raw = presentedKey(ctx.get('authorization'), ctx.get('x-api-key'));
    if (raw === null) {
      throw new ApiError(401, 'missing_api_key', 'send the API key as "Authorization: Bearer aik_v1_..." or "x-api-key"', {}, { 'WWW-Authenticate': 'Bearer' });
    }
    if (!API_KEY_PATTERN.test(raw)) throw new ApiError(401, 'malformed_api_key', 'the API key is not an aik_v1_ key', {}, { 'WWW-Authenticate': 'Bearer' });
    const resolution = await resolve(raw);
    if (!resolution.ok) {
      throw new ApiError(STATUS_BY_REASON[resolution.reason], resolution.reason, MESSAGES[resolution.reason], {}, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    }
    if (resolution.region !== region) {
      throw new ApiError(403, 'wrong_region', `this key belongs to the ${resolution.region.toUpperCase()} region; call that region's API`, {
        keyRegion: resolution.region,
        serverRegion: region,
      });
    }
    ctx.state.integration = {
      integrationId: resolution.integrationId,
      name: resolution.name,
      tier: resolution.tier,
      region: resolution.region,
      status: resolution.status,
      keyId: resolution.keyId,
      keyHash: resolution.keyHash,
    };
    ctx.set('x-isnotai-tier', resolution.tier);
    await next();
  };
}
