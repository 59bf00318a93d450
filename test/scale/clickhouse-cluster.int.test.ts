import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createHttpGateway } from '../../services/clickhouse/http-driver.js';
import { migrate } from '../../services/clickhouse/migrations.js';

const url = process.env.CLICKHOUSE_URL;
const cluster = process.env.CLICKHOUSE_CLUSTER;

/** Runs only against a real ClickHouse cluster (none can run on our machines); the DDL itself is unit-tested. */
describe.skipIf(!url || !cluster)('ClickHouse cluster (CLICKHOUSE_URL + CLICKHOUSE_CLUSTER)', () => {
  it('creates the replicated and distributed schema idempotently and reads back through the distributed tables', async () => {
    const gateway = createHttpGateway({ url: url!, username: process.env.CLICKHOUSE_USER ?? 'default', password: process.env.CLICKHOUSE_PASSWORD ?? '', database: 'default', requestTimeoutMs: 60_000, cluster });
    const generation = 900 + Math.floor(Math.random() * 99);
    const logger = pino({ level: 'silent' });
    const names = await migrate(gateway, generation, logger, { cluster });
    await migrate(gateway, generation, logger, { cluster });
    await gateway.insert(names.session_events, [
      {
        integration_id: 'int_c',
        session_id: 's1',
        event_id: 'e1',
        event_at: '2026-11-01T10:00:00.000Z',
        event_type: 'session.started',
        item_at: ['2026-11-01T10:00:00.000Z'],
        item_kind: ['started'],
        item_page_url: [''],
        item_attributes: ['{}'],
        src_partition: 0,
        src_offset: 1,
      },
    ]);
    const rows = await gateway.query<{ n: number }>(`SELECT toUInt32(sum(events)) AS n FROM ${names.events_hourly} WHERE integration_id = {i:String}`, { i: 'int_c' });
    expect(rows[0]?.n).toBe(1);
    await gateway.close();
  });
});
