import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evolveSession, type SessionState } from '../../projections/sessions/session-state.js';
import { toSessionResource } from '../../projections/sessions/sessions.queries.js';
import type { SessionEvent } from '../../schemas/events/session-events.js';
import type { MintedApiKey } from '../../services/keys/api-keys.js';
import { createTrafficGenerator, type SimulatedSession } from '../../services/simulator/traffic.js';
import { eventually } from '../support/poll.js';
import { get, provisionIntegration, startReadSide, type ReadSide } from '../support/read-side.js';
import { startStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let side: ReadSide;
const keys: Record<string, MintedApiKey> = {};
const sessions: Record<string, SimulatedSession[]> = { int_api_a: [], int_api_b: [] };

const fold = (events: readonly SessionEvent[]) => events.reduce<SessionState | null>((s, e) => evolveSession(s, e), null)!;

/** Follows nextCursor to the end; returns every item. */
async function collect(path: string, key: string, limit: number): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1_000; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await get(side.url, `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, key);
    expect(res.status).toBe(200);
    items.push(...res.body.data);
    cursor = res.body.pagination.nextCursor;
    expect(res.body.pagination.hasMore).toBe(cursor !== null);
    if (!cursor) return items;
  }
  throw new Error('pagination did not end');
}

beforeAll(async () => {
  stack = await startStack({ name: 'api' });
  side = await startReadSide(stack);
  keys.int_api_a = await provisionIntegration(stack, { integrationId: 'int_api_a', tier: 'enterprise' });
  keys.int_api_b = await provisionIntegration(stack, { integrationId: 'int_api_b', tier: 'enterprise' });
  const generator = createTrafficGenerator({ seed: 99, integrationIds: ['int_api_a', 'int_api_b'], startAt: new Date(Date.now() - 7_200_000) });
  for (let i = 0; i < 50; i++) {
    const s = generator.nextSimulatedSession();
    sessions[s.integrationId]!.push(s);
  }
  await stack.publish(Object.values(sessions).flat().flatMap((s) => s.events));
  for (const [integrationId, list] of Object.entries(sessions)) {
    const events = list.reduce((n, s) => n + s.events.length, 0);
    await eventually(() => get(side.url, '/v1/stats', keys[integrationId]!.rawKey), {
      until: (r) => r.status === 200 && r.body.data.events === events && r.body.data.sessions === list.length,
      what: `${integrationId} projected`,
    });
  }
  await stack.drained();
});

afterAll(async () => {
  await side?.stop();
  await stack?.stop();
});

describe('sessions', () => {
  it('GET /v1/sessions/{id} answers exactly the contract fields, equal to the folded events', async () => {
    for (const s of sessions.int_api_a!.slice(0, 10)) {
      const res = await get(side.url, `/v1/sessions/${s.sessionId}`, keys.int_api_a!.rawKey);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body.data).sort()).toEqual(
        ['id', 'createdAt', 'updatedAt', 'status', 'botScore', 'detectionFlags', 'pageUrl', 'userAgentSummary', 'userId', 'userName', 'userUrl'].sort(),
      );
      expect(res.body.data).toEqual(toSessionResource(fold(s.events)));
    }
  });

  it('pages through every session newest first, no duplicates, no gaps', async () => {
    const items = await collect('/v1/sessions', keys.int_api_a!.rawKey, 7);
    const ids = items.map((i) => i.id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(sessions.int_api_a!.map((s) => s.sessionId).sort());
    const created = items.map((i) => Date.parse(i.createdAt as string));
    expect(created).toEqual([...created].sort((a, b) => b - a));
  });

  it('paging while new sessions stream in: no duplicates, and every session that existed before paging began appears', async () => {
    const before = new Set((await collect('/v1/sessions', keys.int_api_a!.rawKey, 200)).map((i) => i.id as string));
    const generator = createTrafficGenerator({ seed: 1234, integrationIds: ['int_api_a'], startAt: new Date(Date.now() - 600_000) });
    const fresh = Array.from({ length: 30 }, () => generator.nextSimulatedSession());
    const seen: string[] = [];
    let cursor: string | null = null;
    let page = 0;
    do {
      // New sessions land between pages: newer than anything already paged past, so they cannot shift the keyset.
      if (page % 2 === 0 && fresh.length > 0) await stack.publish(fresh.splice(0, 6).flatMap((x) => x.events));
      const res = await get(side.url, `/v1/sessions?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, keys.int_api_a!.rawKey);
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((d: { id: string }) => d.id));
      cursor = res.body.pagination.nextCursor;
      page += 1;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });

  it('filters by status and score range, consistent with the full list', async () => {
    // The streaming test above leaves sessions in flight: compare two lists only once nothing is still changing them.
    await stack.drained();
    const all = await collect('/v1/sessions', keys.int_api_a!.rawKey, 200);
    const bots = await collect('/v1/sessions?status=bot,suspicious&minScore=0.5', keys.int_api_a!.rawKey, 5);
    const expected = all.filter((s) => ['bot', 'suspicious'].includes(s.status as string) && (s.botScore as number) >= 0.5);
    expect(bots.map((b) => b.id)).toEqual(expected.map((e) => e.id));
  });

  it('details: timeline, counts by kind and page history of the session', async () => {
    const s = sessions.int_api_a!.find((x) => x.events.some((e) => e.type === 'session.page_viewed'))!;
    const res = await get(side.url, `/v1/sessions/${s.sessionId}/details`, keys.int_api_a!.rawKey);
    expect(res.status).toBe(200);
    const lifecycle = s.events.filter((e) => e.type !== 'session.activity');
    expect(res.body.data.timeline).toHaveLength(lifecycle.length);
    const activities = s.events.flatMap((e) => (e.type === 'session.activity' ? e.data.activities : []));
    const counts: Record<string, number> = {};
    for (const a of activities) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
    for (const e of lifecycle) counts[e.type.slice(8)] = (counts[e.type.slice(8)] ?? 0) + 1;
    expect(res.body.data.eventCounts).toEqual(counts);
    const pages = s.events.filter((e) => e.type === 'session.started' || e.type === 'session.page_viewed').map((e) => e.data.pageUrl);
    expect(res.body.data.pageHistory.map((p: { pageUrl: string }) => p.pageUrl)).toEqual(pages);
  });

  it('events: pages through every item of a session in time order', async () => {
    const s = sessions.int_api_a![0]!;
    const items = await collect(`/v1/sessions/${s.sessionId}/events`, keys.int_api_a!.rawKey, 9);
    const expected = s.events.reduce((n, e) => n + (e.type === 'session.activity' ? e.data.activities.length : 1), 0);
    expect(items).toHaveLength(expected);
    expect(new Set(items.map((i) => i.id)).size).toBe(expected);
    // Each item with the time, kind and page its event gave it, in (time, event, position) order.
    const want = s.events
      .flatMap((e) =>
        e.type === 'session.activity'
          ? e.data.activities.map((a, seq) => ({ eventId: e.eventId, seq, at: a.at, kind: a.kind, pageUrl: a.pageUrl ?? null }))
          : [{ eventId: e.eventId, seq: 0, at: e.occurredAt, kind: e.type.slice('session.'.length), pageUrl: 'pageUrl' in e.data ? e.data.pageUrl : null }],
      )
      .sort((x, y) => Date.parse(x.at) - Date.parse(y.at) || (x.eventId < y.eventId ? -1 : x.eventId > y.eventId ? 1 : x.seq - y.seq))
      .map((x) => ({ id: `${x.eventId}:${x.seq}`, occurredAt: new Date(x.at).toISOString(), kind: x.kind, pageUrl: x.pageUrl }));
    expect(items.map((i) => ({ id: i.id, occurredAt: new Date(String(i.occurredAt)).toISOString(), kind: i.kind, pageUrl: i.pageUrl }))).toEqual(want);
  });

  it('unknown session: 404 not_found in the envelope', async () => {
    const res = await get(side.url, '/v1/sessions/ses_does_not_exist', keys.int_api_a!.rawKey);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('tenant isolation', () => {
  it("no endpoint shows one integration another's sessions, by id or by list", async () => {
    const foreign = sessions.int_api_a!.slice(0, 5);
    for (const s of foreign) {
      for (const path of [`/v1/sessions/${s.sessionId}`, `/v1/sessions/${s.sessionId}/details`, `/v1/sessions/${s.sessionId}/events`]) {
        const res = await get(side.url, path, keys.int_api_b!.rawKey);
        expect(res.status, path).toBe(404);
      }
    }
    const listed = await collect('/v1/sessions', keys.int_api_b!.rawKey, 100);
    const mine = new Set(sessions.int_api_b!.map((s) => s.sessionId));
    expect(listed.every((s) => mine.has(s.id as string))).toBe(true);
  });

  it("a cursor from one integration is refused for another", async () => {
    const page = await get(side.url, '/v1/sessions?limit=2', keys.int_api_a!.rawKey);
    const cursor = page.body.pagination.nextCursor as string;
    const res = await get(side.url, `/v1/sessions?limit=2&cursor=${encodeURIComponent(cursor)}`, keys.int_api_b!.rawKey);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_cursor');
  });
});

describe('conventions', () => {
  it('echoes a valid X-Request-ID and mints one otherwise; rate-limit and tier headers on /v1', async () => {
    const echoed = await get(side.url, '/v1/stats', keys.int_api_a!.rawKey, { 'x-request-id': 'my-trace-123' });
    expect(echoed.headers.get('x-request-id')).toBe('my-trace-123');
    expect(echoed.headers.get('x-isnotai-tier')).toBe('enterprise');
    expect(Number(echoed.headers.get('x-ratelimit-limit'))).toBeGreaterThan(0);
    expect(echoed.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
    expect(Number(echoed.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 1);
    const minted = await get(side.url, '/health', undefined, { 'x-request-id': 'bad id with spaces' });
    expect(minted.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it('meters its own usage per day and endpoint', async () => {
    const before = await get(side.url, '/v1/usage', keys.int_api_b!.rawKey);
    await get(side.url, '/v1/integration', keys.int_api_b!.rawKey);
    await get(side.url, '/v1/integration', keys.int_api_b!.rawKey);
    const after = await eventually(() => get(side.url, '/v1/usage', keys.int_api_b!.rawKey), {
      until: (r) => (r.body.data.total.byEndpoint['GET /v1/integration'] ?? 0) >= 2,
    });
    expect(after.body.data.total.requests).toBeGreaterThanOrEqual(before.body.data.total.requests + 3);
    expect(after.body.data.days).toHaveLength(30);
  });
});
