import { randomBytes } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOOPBACK } from './free-port.js';
import { runCommand, spawnLogged, stopProcess, type ManagedProcess } from './processes.js';

/** One KRaft node (combined broker + controller) run from the Maven jars. */
export interface NativeNodeSpec {
  nodeId: number;
  port: number;
  controllerPort: number;
  /** `id@host:port,...` for every controller of the cluster (static quorum). */
  voters: string;
  /** Replication factor for internal topics and the default for new topics. */
  replication: number;
  /** Holds server.properties, log4j.properties and the broker's own logs. */
  workDir: string;
  /** Kafka's data directory (log.dirs). */
  dataDir: string;
  libs: string;
  heap: string;
  /** Our temp dir holding workDir; removed if this Node process dies without stopping the node. */
  tempRoot: string;
}

/** Kafka's Uuid wire format: 16 random bytes, base64url without padding. */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Like Uuid.randomUuid(): a leading '-' would read as a CLI flag.
    if (!id.startsWith('-')) return id;
  }
}

export function serverProperties(spec: NativeNodeSpec): string {
  const rf = spec.replication;
  const lines: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': spec.nodeId,
    'controller.quorum.voters': spec.voters,
    listeners: `PLAINTEXT://${LOOPBACK}:${spec.port},CONTROLLER://${LOOPBACK}:${spec.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${LOOPBACK}:${spec.port}`,
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': spec.dataDir,
    'num.partitions': 3,
    'auto.create.topics.enable': 'false',
    'default.replication.factor': rf,
    'offsets.topic.replication.factor': rf,
    // One partition: the first consumer group join only waits for one leader.
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': Math.min(2, rf),
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    // Sized for a 2-core machine running tests next to the broker.
    'num.network.threads': 1,
    'num.io.threads': 2,
    'background.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'num.replica.fetchers': 1,
    // The 128 MiB default would be allocated on our small heap.
    'log.cleaner.dedupe.buffer.size': 16_777_216,
    'log.cleaner.threads': 1,
    // Fail over quickly when a test kills a node of a cluster.
    'broker.session.timeout.ms': 6_000,
    'broker.heartbeat.interval.ms': 500,
    // Shorter graceful shutdown: SIGTERM is followed by a controlled shutdown request.
    'controlled.shutdown.max.retries': 1,
  };
  return `${Object.entries(lines)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

/** reload4j config: broker logs go to files in workDir, never to our stdout. */
function log4jProperties(workDir: string): string {
  const file = join(workDir, 'server.log');
  return [
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.FileAppender',
    `log4j.appender.file.File=${file}`,
    'log4j.appender.file.Append=true',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    // Per-request and per-partition chatter buries the lines that explain a failure.
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.kafka.log.LogCleaner=WARN',
    'log4j.logger.org.apache.kafka.storage.internals.log=WARN',
    'log4j.logger.kafka.log=WARN',
    'log4j.logger.org.apache.kafka.clients=WARN',
    '',
  ].join('\n');
}

function javaBase(spec: NativeNodeSpec): string[] {
  return ['-Djava.awt.headless=true', `-Dlog4j.configuration=file:${join(spec.workDir, 'log4j.properties')}`, '-cp', `${spec.libs}/*`];
}

/** Writes config files and formats dataDir unless it already holds a formatted node. */
export async function prepareNode(spec: NativeNodeSpec, clusterId: string): Promise<void> {
  const config = join(spec.workDir, 'server.properties');
  await writeFile(config, serverProperties(spec));
  await writeFile(join(spec.workDir, 'log4j.properties'), log4jProperties(spec.workDir));
  if (await formatted(spec.dataDir)) return;
  // C1 only + serial GC: this JVM runs for a second, so JIT and GC threads are waste.
  const result = await runCommand(
    'java',
    ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', ...javaBase(spec), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config],
    { timeoutMs: 120_000 },
  );
  if (result.code !== 0) throw new Error(`kafka StorageTool format failed (code ${result.code}):\n${result.output}`);
}

async function formatted(dataDir: string): Promise<boolean> {
  return access(join(dataDir, 'meta.properties')).then(
    () => true,
    () => false,
  );
}

/** cluster.id of an already formatted data dir, so a reused dir keeps its identity. */
export async function existingClusterId(dataDir: string): Promise<string | undefined> {
  try {
    const meta = await readFile(join(dataDir, 'meta.properties'), 'utf8');
    return /^cluster\.id=(.+)$/m.exec(meta)?.[1]?.trim();
  } catch {
    return undefined;
  }
}

export function spawnNode(spec: NativeNodeSpec): ManagedProcess {
  const heap = spec.heap.split(/\s+/).filter(Boolean);
  return spawnLogged('java', [...heap, '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', ...javaBase(spec), 'kafka.Kafka', join(spec.workDir, 'server.properties')], {
    logFile: join(spec.workDir, 'stdout.log'),
    cwd: spec.workDir,
    tempDirs: [spec.tempRoot],
  });
}

/** Kafka flushes and closes its logs on SIGTERM; give it a while before SIGKILL. */
export function stopNode(proc: ManagedProcess): Promise<unknown> {
  return stopProcess(proc, 30_000);
}
