import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../../provision/free-port.js';
import { startRedisCluster, type RedisCluster } from '../../provision/redis-server.js';

let cluster: RedisCluster;
let client: Cluster;

describe('provisioned redis cluster', () => {
  beforeAll(async () => {
    const started = performance.now();
    cluster = await startRedisCluster(3);
    console.log(`[redis-cluster] ${cluster.nodes.map((n) => n.port).join(',')} ready in ${Math.round(performance.now() - started)} ms`);
    client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  });

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  it('has three masters', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const info = String(await client.cluster('INFO'));
    expect(info).toContain('cluster_state:ok');
    expect(info).toContain('cluster_size:3');
  });

  it('stores keys whose slots live on every master', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `provision:${i}`);
    for (const key of keys) await client.set(key, `v-${key}`);
    for (const key of keys) expect(await client.get(key)).toBe(`v-${key}`);
    // 30 keys over 16384 slots split in three ranges: each master must hold some.
    const sizes = await Promise.all(client.nodes('master').map((node) => node.dbsize()));
    expect(sizes).toHaveLength(3);
    expect(sizes.every((n) => n > 0)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(keys.length);
  });

  it.skipIf(Boolean(process.env.REDIS_CLUSTER_NODES))('stop() closes every node', async () => {
    client.disconnect();
    await cluster.stop();
    for (const node of cluster.nodes) expect(await isPortOpen(node.port)).toBe(false);
  });
});
