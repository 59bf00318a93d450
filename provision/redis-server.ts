import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { withDirLock } from './dir-lock.js';
import { LOOPBACK, freePorts } from './free-port.js';
import { notaiCacheDir } from './kafka-jars.js';
import { runCommand, spawnLogged, stopProcess, waitUntil, type ManagedProcess } from './processes.js';

export interface RedisServer {
  url: string;
  host: string;
  port: number;
  /** Current server process (changes on restart); undefined when external or not running. */
  readonly pid: number | undefined;
  /** SIGTERM (SIGKILL after a deadline), then removes the temp dir. */
  stop(): Promise<void>;
  /** Signals the server without waiting (default SIGKILL), for fault tests. */
  kill(signal?: NodeJS.Signals): void;
  /** Starts again on the same port (data is not persisted) and waits until it answers PING. */
  restart(): Promise<void>;
}

export interface RedisNodeAddress {
  host: string;
  port: number;
}

export interface RedisCluster {
  nodes: RedisNodeAddress[];
  /** The individual servers, for fault tests; empty when REDIS_CLUSTER_NODES points elsewhere. */
  servers: RedisServer[];
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  log?: (msg: string) => void;
  readyTimeoutMs?: number;
}

let ensured: Promise<void> | undefined;

/** Installs redis-server with apt once per machine when it is missing (CI images, fresh sandboxes). */
export function ensureRedisBinary(log?: (msg: string) => void): Promise<void> {
  ensured ??= (async () => {
    if ((await runCommand('which', ['redis-server'])).code === 0) return;
    const base = notaiCacheDir();
    await mkdir(base, { recursive: true });
    // dpkg takes its own lock and fails instead of waiting, so serialise workers ourselves.
    await withDirLock(join(base, 'apt-redis.lock'), async () => {
      if ((await runCommand('which', ['redis-server'])).code === 0) return;
      log?.('redis-server not found; installing with apt-get');
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'redis-server']]) {
        const result = await runCommand('apt-get', args, { env, timeoutMs: 10 * 60_000 });
        if (result.code !== 0) throw new Error(`apt-get ${args.join(' ')} failed (code ${result.code}):\n${result.output.slice(-3_000)}`);
      }
    });
  })();
  ensured.catch(() => {
    ensured = undefined; // let a later call retry
  });
  return ensured;
}

/** Sends one command on a fresh connection; undefined when the server does not answer. */
async function ask(port: number, command: string, ...args: string[]): Promise<string | undefined> {
  const client = new Redis({
    host: LOOPBACK,
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // failures surface through the awaited calls
  try {
    await client.connect();
    const reply = await client.call(command, ...args);
    return typeof reply === 'string' ? reply : String(reply);
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

interface ServerSpec {
  port: number;
  dir: string;
  extraArgs: string[];
  /** Our temp dir (dir or its parent); removed if this Node process dies without stopping redis. */
  tempRoot: string;
}

function spawnRedis(spec: ServerSpec): ManagedProcess {
  const args = ['--port', String(spec.port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', spec.dir];
  // Log to stdout, which spawnLogged sends to a file in the temp dir.
  args.push('--logfile', '', '--daemonize', 'no', ...spec.extraArgs);
  return spawnLogged('redis-server', args, { logFile: join(spec.dir, 'redis.log'), cwd: spec.dir, tempDirs: [spec.tempRoot] });
}

class ManagedRedis implements RedisServer {
  readonly host = LOOPBACK;
  readonly url: string;
  private proc: ManagedProcess | undefined;
  /** Set for a standalone server, whose temp dir is its own; cluster nodes share a root. */
  removeDirOnStop = false;

  constructor(
    private readonly spec: ServerSpec,
    private readonly readyTimeoutMs: number,
  ) {
    this.url = `redis://${LOOPBACK}:${spec.port}`;
  }

  get port(): number {
    return this.spec.port;
  }

  get pid(): number | undefined {
    return this.proc && !this.proc.exitInfo() ? this.proc.pid : undefined;
  }

  async start(): Promise<void> {
    const proc = spawnRedis(this.spec);
    this.proc = proc;
    await waitUntil(async () => (await ask(this.spec.port, 'PING')) === 'PONG', {
      what: `redis-server on port ${this.spec.port}`,
      timeoutMs: this.readyTimeoutMs,
      intervalMs: 50,
      processes: [proc],
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc?.kill(signal);
  }

  async restart(): Promise<void> {
    if (this.proc) await stopProcess(this.proc, 10_000);
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.proc) await stopProcess(this.proc, 10_000);
    if (this.removeDirOnStop) await rm(this.spec.dir, { recursive: true, force: true });
  }
}

/** `extraArgs` receives a second free port (the cluster bus), picked with the main one so they differ. */
async function startOne(
  dir: string,
  tempRoot: string,
  opts: StartRedisOptions,
  extraArgs: (busPort: number) => string[] = () => [],
): Promise<ManagedRedis> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  // A port taken between our probe and redis' bind is retried with new ones.
  for (let attempt = 1; ; attempt++) {
    const [port, busPort] = await freePorts(2);
    if (port === undefined || busPort === undefined) throw new Error('no free port');
    const server = new ManagedRedis({ port, dir, tempRoot, extraArgs: extraArgs(busPort) }, readyTimeoutMs);
    try {
      await server.start();
      return server;
    } catch (err) {
      await server.stop().catch(() => undefined);
      if (attempt >= 3 || !String(err).includes('Address already in use')) throw err;
    }
  }
}

/** REDIS_URL if set (stop is a no-op), else a private redis-server on a free loopback port. */
export async function startRedisServer(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const external = process.env.REDIS_URL?.trim();
  if (external) {
    const parsed = new URL(external);
    const port = Number(parsed.port || 6379);
    return { url: external, host: parsed.hostname, port, pid: undefined, stop: async () => {}, kill: () => {}, restart: async () => {} };
  }
  await ensureRedisBinary(opts.log);
  const dir = await mkdtemp(join(tmpdir(), 'notai-redis-'));
  const server = await startOne(dir, dir, opts).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  server.removeDirOnStop = true;
  opts.log?.(`redis-server ready at ${server.url}`);
  return server;
}

/**
 * `masters` cluster-enabled servers joined with `redis-cli --cluster create`, no
 * replicas. Each node gets an explicit bus port: the default (port + 10000) can
 * exceed 65535 for kernel-assigned ports.
 */
export async function startRedisCluster(masters = 3, opts: StartRedisOptions = {}): Promise<RedisCluster> {
  const external = process.env.REDIS_CLUSTER_NODES?.trim();
  if (external) {
    const nodes = external.split(',').map((hp) => {
      const [host = LOOPBACK, port = '6379'] = hp.trim().split(':');
      return { host, port: Number(port) };
    });
    return { nodes, servers: [], stop: async () => {} };
  }
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  await ensureRedisBinary(opts.log);
  const root = await mkdtemp(join(tmpdir(), 'notai-redis-cluster-'));
  const servers: ManagedRedis[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const dir = join(root, `node-${i + 1}`);
      await mkdir(dir);
      const clusterArgs = (busPort: number): string[] => [
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')],
        ...['--cluster-port', String(busPort), '--cluster-node-timeout', '5000'],
      ];
      servers.push(await startOne(dir, root, opts, clusterArgs));
    }
    const addresses = servers.map((s) => `${s.host}:${s.port}`);
    const created = await runCommand('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      timeoutMs: 60_000,
    });
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed (code ${created.code}):\n${created.output}`);
    // `create` returns once slots are assigned; gossip may not have reached every node yet.
    await waitUntil(
      async () => {
        const infos = await Promise.all(servers.map((s) => ask(s.port, 'CLUSTER', 'INFO')));
        return infos.every((info) => info?.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${masters}`));
      },
      { what: 'redis cluster', timeoutMs: opts.readyTimeoutMs ?? 30_000, processes: [] },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  opts.log?.(`redis cluster ready at ${servers.map((s) => s.port).join(',')}`);
  return { nodes: servers.map((s) => ({ host: s.host, port: s.port })), servers, stop };
}
