import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit` needs nothing running. `int` (real services) starts one
 * Kafka broker and one redis-server for the whole run in its global setup;
 * each file isolates itself with its own topic namespace, Redis key prefix and
 * ClickHouse directory. Every file runs in its own process, because chdb holds
 * one engine per process.
 */
const shared = {
  pool: 'forks' as const,
  testTimeout: 120_000,
  hookTimeout: 180_000,
  teardownTimeout: 60_000,
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/**/*.unit.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'int',
          include: ['test/**/*.int.test.ts', 'test/**/*.e2e.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
