import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LOOPBACK, freePorts, isPortOpen } from './free-port.js';
import { ensureKafkaJars } from './kafka-jars.js';
import { existingClusterId, prepareNode, randomClusterId, spawnNode, stopNode, type NativeNodeSpec } from './kafka-native.js';
import { tailFile, waitUntil, type ManagedProcess } from './processes.js';
import type { KafkaBroker, StartKafkaOptions } from './kafka-types.js';

export type { KafkaBroker, StartKafkaOptions };


export interface KafkaNode extends KafkaBroker {
  nodeId: number;
}

export interface KafkaCluster {
  brokers: string[];
  nodes: KafkaNode[];
  stop(): Promise<void>;
}


const DEFAULT_HEAP = '-Xms256m -Xmx512m';

/** Ready means the cluster answers a metadata request listing every expected node. */
async function clusterAnswers(brokers: string[], nodeIds: number[]): Promise<boolean> {
  // A plain TCP check first avoids building a client while the JVM is still booting.
  const port = brokers[0]?.split(':')[1];
  if (brokers.length === 1 && port && !(await isPortOpen(Number(port)))) return false;
  const admin = new Kafka({
    clientId: 'notai-provision-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return nodeIds.length === 0 || nodeIds.every((id) => cluster.brokers.some((b) => b.nodeId === id));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * KAFKA_BROKERS if set (stop/kill/restart are no-ops), else apache/kafka in Docker if an
 * engine is reachable, else a KRaft JVM run from the Maven jars on free loopback ports.
 */
export async function startKafkaBroker(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const external = process.env.KAFKA_BROKERS?.trim();
  if (external) {
    return { brokers: external.split(',').map((b) => b.trim()), pid: undefined, stop: async () => {}, kill: () => {}, restart: async () => {} };
  }
  const { dockerAvailable, startKafkaContainer } = await import('./kafka-container.js');
  if (await dockerAvailable()) {
    opts.log?.('starting Kafka in Docker (testcontainers)');
    return startKafkaContainer({ ...opts, isReady: (brokers) => clusterAnswers(brokers, []) });
  }
  // A port taken between our probe and the JVM's bind is retried with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      const cluster = await startNative(1, opts);
      const node = cluster.nodes[0];
      if (!node) throw new Error('no node started');
      // The cluster's stop also removes the temp dir; the node's alone would not.
      return {
        brokers: cluster.brokers,
        get pid() {
          return node.pid;
        },
        kill: (signal) => node.kill(signal),
        restart: () => node.restart(),
        stop: cluster.stop,
      };
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('Address already in use')) throw err;
      opts.log?.('Kafka port was taken; retrying on new ports');
    }
  }
}

/** n KRaft nodes, each broker+controller, sharing one static voter set and cluster id. */
export async function startKafkaCluster(n: number, opts: StartKafkaOptions = {}): Promise<KafkaCluster> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`cluster size must be a positive integer, got ${n}`);
  if (opts.logDir && n > 1) throw new Error('logDir applies to a single broker only');
  return startNative(n, opts);
}

async function startNative(n: number, opts: StartKafkaOptions): Promise<KafkaCluster> {
  const started = Date.now();
  const libs = await ensureKafkaJars(opts.log ? { log: opts.log } : {});
  const ports = await freePorts(2 * n);
  const root = await mkdtemp(join(tmpdir(), 'notai-kafka-'));
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const voters = ids.map((id, i) => `${id}@${LOOPBACK}:${ports[2 * i + 1]}`).join(',');
  const specs: NativeNodeSpec[] = [];
  for (const [i, nodeId] of ids.entries()) {
    const workDir = join(root, `node-${nodeId}`);
    const dataDir = opts.logDir ?? join(workDir, 'data');
    await mkdir(dataDir, { recursive: true });
    await mkdir(workDir, { recursive: true });
    specs.push({
      nodeId,
      port: ports[2 * i] ?? 0,
      controllerPort: ports[2 * i + 1] ?? 0,
      voters,
      replication: Math.min(3, n),
      workDir,
      dataDir,
      libs,
      heap: opts.heap ?? DEFAULT_HEAP,
      tempRoot: root,
    });
  }
  const clusterId = (opts.logDir && (await existingClusterId(opts.logDir))) || randomClusterId();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const nodes: NativeNode[] = specs.map((spec) => new NativeNode(spec, readyTimeoutMs, () => nodes));
  const brokers = nodes.flatMap((node) => node.brokers);
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    // Formats run one after another: each is a JVM and we have few cores.
    for (const spec of specs) await prepareNode(spec, clusterId);
    const procs = nodes.map((node) => node.spawn());
    // Each broker's metadata view lags the controller on its own; ready means every
    // node, asked directly, already lists every node (else clients see a partial cluster).
    const allSeeAll = async (): Promise<boolean> => (await Promise.all(brokers.map((b) => clusterAnswers([b], ids)))).every(Boolean);
    await waitUntil(allSeeAll, {
      what: `Kafka (${n} node${n > 1 ? 's' : ''}, ${root})`,
      timeoutMs: readyTimeoutMs,
      processes: procs,
      logFiles: specs.map((s) => join(s.workDir, 'server.log')),
    });
  } catch (err) {
    await stop();
    throw err;
  }
  opts.log?.(`Kafka ready at ${brokers.join(',')} in ${Date.now() - started} ms`);
  return { brokers, nodes, stop };
}

class NativeNode implements KafkaNode {
  readonly nodeId: number;
  readonly brokers: string[];
  private proc: ManagedProcess | undefined;
  private stopped = false;

  constructor(
    private readonly spec: NativeNodeSpec,
    private readonly readyTimeoutMs: number,
    private readonly cluster: () => NativeNode[],
  ) {
    this.nodeId = spec.nodeId;
    this.brokers = [`${LOOPBACK}:${spec.port}`];
  }

  get pid(): number | undefined {
    return this.proc && !this.proc.exitInfo() ? this.proc.pid : undefined;
  }

  spawn(): ManagedProcess {
    this.proc = spawnNode(this.spec);
    return this.proc;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.proc?.kill(signal);
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error('cannot restart a stopped broker');
    // Let the old JVM release its ports and data-dir lock before the new one starts.
    if (this.proc) await stopNode(this.proc);
    const proc = this.spawn();
    // Ready when every running node (this one included) lists this node again.
    const seenByAll = async (): Promise<boolean> => {
      const running = this.cluster().filter((n) => n === this || n.pid !== undefined);
      return (await Promise.all(running.map((n) => clusterAnswers(n.brokers, [this.nodeId])))).every(Boolean);
    };
    await waitUntil(seenByAll, {
      what: `Kafka node ${this.nodeId} restart`,
      timeoutMs: this.readyTimeoutMs,
      processes: [proc],
      logFiles: [join(this.spec.workDir, 'server.log')],
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.proc) await stopNode(this.proc);
  }

  /** For debugging a failing test: the broker's own log. */
  logTail(lines = 40): Promise<string> {
    return tailFile(join(this.spec.workDir, 'server.log'), lines);
  }
}
