/**
 * The gateway contract on both drivers, in one file so their results can be
 * compared. chdb allows one open data directory per process, so the suites run
 * one after the other: the embedded suite's session is closed before the HTTP
 * suite's endpoint opens its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmbeddedGateway } from '../../services/clickhouse/embedded-driver.js';
import { createHttpGateway } from '../../services/clickhouse/http-driver.js';
import { resolveClickHouseForTests } from '../support/clickhouse-http-endpoint.js';
import { describeGatewayContract, type GatewayUnderTest } from './gateway-contract.js';

const observed = { embedded: new Map<string, unknown>(), http: new Map<string, unknown>() };

describeGatewayContract({
  label: 'embedded',
  canGoDown: false,
  observations: observed.embedded,
  async open(): Promise<GatewayUnderTest> {
    const dir = await mkdtemp(join(tmpdir(), 'gateway-embedded-'));
    const gateway = createEmbeddedGateway({ path: dir });
    return {
      gateway,
      async close(): Promise<void> {
        await gateway.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

describeGatewayContract({
  label: 'http',
  // A real server (CLICKHOUSE_URL) cannot be taken down from here.
  canGoDown: !process.env['CLICKHOUSE_URL'],
  observations: observed.http,
  async open(): Promise<GatewayUnderTest> {
    const clickhouse = await resolveClickHouseForTests();
    const gateway = createHttpGateway({ url: clickhouse.url, username: 'default', password: '', database: 'default', requestTimeoutMs: 30_000 });
    return {
      gateway,
      setDown: clickhouse.endpoint?.setDown,
      async close(): Promise<void> {
        await gateway.close();
        await clickhouse.stop();
      },
    };
  },
});

describe('ClickHouseGateway drivers', () => {
  it('observe identical results', () => {
    expect(observed.embedded.size).toBeGreaterThan(20);
    expect([...observed.http.keys()].sort()).toEqual([...observed.embedded.keys()].sort());
    for (const [key, value] of observed.embedded) expect(observed.http.get(key), key).toEqual(value);
  });
});
