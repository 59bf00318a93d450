import type { SessionState } from '../projections/sessions/session-state.js';
import type { ReadModel } from '../projections/sessions/sessions.queries.js';
import { ExpiringCache } from './expiring-cache.js';

type Load = (model: ReadModel, integrationId: string, sessionId: string) => Promise<SessionState | null>;

export interface SessionLookupOptions {
  /** How long a session found nowhere is answered as absent without asking ClickHouse again. */
  missTtlMs: number;
  maxEntries: number;
  now: () => number;
}

/**
 * One session for the API: Redis on every request (where the projector makes a
 * session visible, so a new session shows on the first poll after it is
 * projected), then ClickHouse for what Redis lacks (after Redis lost its data,
 * say). That fallback is a FINAL lookup on the engine the projector writes to,
 * so it is guarded: concurrent
 * fallbacks for one session share one query, and a session found in neither
 * is answered as absent for `missTtlMs`. A client polling for a session that
 * is not projected yet, or probing ids that do not exist, then costs Redis
 * reads rather than one engine statement per request: in the freshness
 * benchmark such polls had queued 6,000 lookups at 226 ms each behind the
 * projector's writes.
 */
export function createSessionLookup(load: { fromRedis: Load; fromClickHouse: Load }, options: SessionLookupOptions) {
  const absent = new ExpiringCache<true>({ ttlMs: options.missTtlMs, maxEntries: options.maxEntries, now: options.now });
  const pending = new Map<string, Promise<SessionState | null>>();

  return async function lookupSession(model: ReadModel, integrationId: string, sessionId: string): Promise<SessionState | null> {
    const cached = await load.fromRedis(model, integrationId, sessionId);
    if (cached !== null) return cached;
    // The table name carries the serving generation: a rebuild's switch starts from a clean slate.
    const key = `${model.tables.sessions}\u0000${integrationId}\u0000${sessionId}`;
    if (absent.get(key)) return null;
    let query = pending.get(key);
    if (!query) {
      query = load.fromClickHouse(model, integrationId, sessionId).finally(() => pending.delete(key));
      pending.set(key, query);
    }
    const state = await query;
    if (state === null) absent.set(key, true);
    return state;
  };
}
