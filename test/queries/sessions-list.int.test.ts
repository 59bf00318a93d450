import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSessions, type ReadModel } from '../../projections/sessions/sessions.queries.js';
import type { ClickHouseGateway } from '../../projections/store/clickhouse-gateway.js';
import { createEmbeddedGateway } from '../../services/clickhouse/embedded-driver.js';
import { migrate } from '../../services/clickhouse/migrations.js';
import { createFixtureProjector, eventBuilders } from '../support/query-fixture.js';

/**
 * The list query reads from a bound found by a probe over raw (unmerged) rows.
 * Stale versions can crowd that probe; the page must still be exact.
 */
const ev = eventBuilders();
const A = 'int_list';
const PAGE = 'https://acme.instructure.com/courses/7/quizzes/1';
const dir = await mkdtemp(join(tmpdir(), 'notai-list-'));
const embedded = createEmbeddedGateway({ path: dir });
let statements = 0;
/** Counts the statements a listing takes, so the test knows which path it exercised. */
const clickhouse: ClickHouseGateway = { ...embedded, query: (sql, params) => (statements++, embedded.query(sql, params)) };
let model: ReadModel;

const at = (day: number, hour = 10) => `2026-10-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00.000Z`;
const ids = Array.from({ length: 12 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);

beforeAll(async () => {
  const tables = await migrate(embedded, 1, pino({ level: 'silent' }));
  // Versions must stay unmerged for the probe to meet them.
  await embedded.command(`SYSTEM STOP MERGES ${tables.sessions}`);
  model = { clickhouse, redis: undefined as never, tables, keys: undefined as never };
  const { project } = createFixtureProjector(embedded, tables);
  await project(ids.map((s, i) => ev.started(A, s, at(i + 1), PAGE)));
  // The newest sessions get many versions each: one new row per batch.
  for (let round = 0; round < 10; round++) {
    await project(ids.slice(-3).map((s) => ev.scored(A, s, at(20, round), round % 2 ? 'bot' : 'human')));
  }
  // A late start moves s05 to the oldest place: its old row is tombstoned.
  await project([ev.started(A, 's05', '2026-09-30T10:00:00.000Z', PAGE)]);
});
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

const newestFirst = ['s12', 's11', 's10', 's09', 's08', 's07', 's06', 's04', 's03', 's02', 's01', 's05'];

describe('listing sessions newest first', () => {
  it('pages through every live session exactly once, in order, at every page size', async () => {
    // Small probes take the bounded path and its fallback; the default one reads this small integration unbounded.
    for (const probeRows of [1, 6, 12, undefined]) {
      for (const limit of [1, 2, 3, 5, 50]) {
        const seen: string[] = [];
        let after: { createdAt: string; sessionId: string } | null = null;
        for (;;) {
          const rows = await listSessions(model, A, {}, after, limit, probeRows === undefined ? {} : { probeRows });
          seen.push(...rows.map((r) => r.session_id));
          if (rows.length < limit) break;
          const last = rows.at(-1)!;
          after = { createdAt: last.created_at, sessionId: last.session_id };
        }
        expect(seen, `limit ${limit}, probe ${probeRows ?? 'default'}`).toEqual(newestFirst);
      }
    }
  });

  it('runs the page again unbounded when stale versions crowd the probe', async () => {
    statements = 0;
    // A probe of 12 raw rows holds only versions of s12 and s11; the bounded page holds only them.
    const rows = await listSessions(model, A, {}, null, 3, { probeRows: 12 });
    expect(rows.map((r) => r.session_id)).toEqual(['s12', 's11', 's10']);
    expect(statements).toBe(2);
  });

  it('reads a page in one statement when the probe is large enough to see past the versions', async () => {
    statements = 0;
    // 24 raw rows: the 11 versions of each of s12 and s11, then s10 and s09.
    const rows = await listSessions(model, A, {}, null, 3, { probeRows: 24 });
    expect(rows.map((r) => r.session_id)).toEqual(['s12', 's11', 's10']);
    expect(statements).toBe(1);
  });

  it('takes one statement when the probe bound holds a full page', async () => {
    statements = 0;
    const rows = await listSessions(model, A, {}, { createdAt: at(9), sessionId: 's09' }, 2, { probeRows: 8 });
    expect(rows.map((r) => r.session_id)).toEqual(['s08', 's07']);
    expect(statements).toBe(1);
  });

  it('takes one statement for a short page when the probe found too few rows to bound the scan', async () => {
    statements = 0;
    // The probe looks for thousands of raw rows and the integration has fewer, so the page read everything there is.
    const rows = await listSessions(model, A, {}, null, 50);
    expect(rows.map((r) => r.session_id)).toEqual(newestFirst);
    expect(statements).toBe(1);
  });

  it('filters apply to the probe and the page alike', async () => {
    const bots = await listSessions(model, A, { status: ['bot'] }, null, 2);
    expect(bots.map((r) => r.session_id)).toEqual(['s12', 's11']);
    expect((await listSessions(model, A, { status: ['suspicious'] }, null, 5)).length).toBe(0);
  });
});
