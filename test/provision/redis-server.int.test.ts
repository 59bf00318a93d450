import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../../provision/free-port.js';
import { startRedisServer, type RedisServer } from '../../provision/redis-server.js';

const external = Boolean(process.env.REDIS_URL);
let server: RedisServer;

async function withClient<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

describe('provisioned redis-server', () => {
  beforeAll(async () => {
    const started = performance.now();
    server = await startRedisServer();
    console.log(`[redis] ready at ${server.url} in ${Math.round(performance.now() - started)} ms`);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('serves SET/GET', async () => {
    await withClient(async (client) => {
      await client.set('provision:check', 'hello');
      expect(await client.get('provision:check')).toBe('hello');
    });
  });

  it.skipIf(external)('restart() keeps the port; nothing is persisted', async () => {
    const { port, url } = server;
    const before = server.pid;
    await server.restart();
    expect(server.port).toBe(port);
    expect(server.url).toBe(url);
    expect(server.pid).not.toBe(before);
    await withClient(async (client) => {
      expect(await client.ping()).toBe('PONG');
      // --save "" --appendonly no: a restart starts empty, by design.
      expect(await client.get('provision:check')).toBeNull();
    });
  });

  it.skipIf(external)('restart() also recovers from SIGKILL', async () => {
    server.kill('SIGKILL');
    await server.restart();
    await withClient(async (client) => expect(await client.ping()).toBe('PONG'));
  });

  it.skipIf(external)('stop() closes the port', async () => {
    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(await isPortOpen(server.port)).toBe(false);
  });
});
