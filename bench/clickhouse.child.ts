import { startClickHouseHttpEndpoint } from '../test/support/clickhouse-http-endpoint.js';
import { startClickHouseMeter } from './clickhouse-meter.js';

/**
 * Child process: the run's ClickHouse engine (chdb over BENCH_CLICKHOUSE_PATH),
 * served over the HTTP protocol behind the statement meter on
 * BENCH_CLICKHOUSE_PORT. A process of its own, as a ClickHouse server is:
 * inside the harness, every statement's dispatch and answer waited on the
 * harness's event loop, which also generates the traffic, runs the raw
 * consumer and polls the probes.
 */
const path = process.env.BENCH_CLICKHOUSE_PATH;
const port = Number(process.env.BENCH_CLICKHOUSE_PORT);
if (!path || !Number.isInteger(port) || port <= 0) throw new Error('BENCH_CLICKHOUSE_PATH and BENCH_CLICKHOUSE_PORT are required');

const endpoint = await startClickHouseHttpEndpoint({ path });
// Statements a client waited on for a quarter of a second or more, one JSON line each in the child's log:
// what a freshness tail waited behind, for a post-mortem (BENCH_KEEP_DIR=1).
const meter = await startClickHouseMeter(endpoint.url, { port, slow: { atLeastMs: 250, report: (statement) => console.log(JSON.stringify(statement)) } });
console.log(`clickhouse at ${endpoint.url}, metered at ${meter.url}`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  let code = 0;
  try {
    await meter.stop();
  } catch (error) {
    console.error('stopping the meter failed:', error);
    code = 1;
  } finally {
    // The engine closes whatever happened to the meter: its parts must be flushed and its lock released.
    await endpoint.stop().catch((error: unknown) => {
      console.error('stopping the engine failed:', error);
      code = 1;
    });
  }
  process.exit(code);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
