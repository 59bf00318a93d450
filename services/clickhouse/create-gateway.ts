import type { ClickHouseGateway } from '../../projections/store/clickhouse-gateway.js';
import type { Config } from '../config.js';
import { createEmbeddedGateway } from './embedded-driver.js';
import { createHttpGateway } from './http-driver.js';

export function createClickHouseGateway(config: Config['clickhouse']): ClickHouseGateway {
  return config.driver === 'embedded'
    ? createEmbeddedGateway({ path: config.path })
    : createHttpGateway({ url: config.url, username: config.username, password: config.password, database: config.database, requestTimeoutMs: config.requestTimeoutMs, cluster: config.cluster });
}
