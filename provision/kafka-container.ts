import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaBroker, StartKafkaOptions } from './kafka-types.js';
import { freePort } from './free-port.js';
import { waitUntil } from './processes.js';
import { KAFKA_VERSION } from './kafka-jars.js';

let dockerProbe: Promise<boolean> | undefined;

/**
 * Where testcontainers' strategies look for an engine (env, ~/.testcontainers.properties,
 * rootful and rootless sockets). With none present we skip importing it (~0.4 s).
 */
function dockerHinted(): boolean {
  if (process.env.DOCKER_HOST) return true;
  const home = homedir();
  const candidates = [
    join(home, '.testcontainers.properties'),
    '/var/run/docker.sock',
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    join('/run', 'user', String(userInfo().uid), 'docker.sock'),
  ];
  if (process.env.XDG_RUNTIME_DIR) candidates.push(join(process.env.XDG_RUNTIME_DIR, 'docker.sock'));
  return candidates.some((path) => existsSync(path));
}

/**
 * True when testcontainers finds a working container runtime. Cached per process;
 * bounded by a timeout because a socket whose daemon hangs would block every test.
 * testcontainers is imported lazily: it costs ~0.5 s and is useless without Docker.
 */
export function dockerAvailable(): Promise<boolean> {
  dockerProbe ??= (async () => {
    if (!dockerHinted()) return false;
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      const ac = new AbortController();
      const timeout = sleep(5_000, false, { signal: ac.signal }).catch(() => false);
      const found = getContainerRuntimeClient().then(
        () => true,
        () => false,
      );
      const result = await Promise.race([found, timeout]);
      ac.abort();
      return result;
    } catch {
      return false;
    }
  })();
  return dockerProbe;
}

/**
 * apache/kafka in KRaft combined mode. The host port is fixed before start because
 * the broker must advertise the address clients use, and a fixed binding keeps that
 * address valid across restart(). A second listener serves inter-broker traffic
 * inside the container, where the host's address may not resolve.
 */
export async function startKafkaContainer(
  opts: StartKafkaOptions & { isReady: (brokers: string[]) => Promise<boolean> },
): Promise<KafkaBroker> {
  const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  const host = client.info.containerRuntime.host;
  const port = await freePort();
  const brokers = [`${host}:${port}`];
  const container = await new GenericContainer(`apache/kafka:${KAFKA_VERSION}`)
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093,BROKER://:9094',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${brokers[0]},BROKER://localhost:9094`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,BROKER:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
      KAFKA_NUM_PARTITIONS: '3',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_HEAP_OPTS: opts.heap ?? '-Xms256m -Xmx512m',
    })
    .start();
  const ready = (): Promise<void> =>
    waitUntil(() => opts.isReady(brokers), { what: `Kafka container ${container.getId()}`, timeoutMs: opts.readyTimeoutMs ?? 60_000 });
  await ready();
  opts.log?.(`Kafka (Docker) ready at ${brokers[0]}`);
  return {
    brokers,
    pid: undefined,
    stop: async () => {
      await container.stop();
    },
    kill: (signal = 'SIGKILL') => {
      void client.container
        .getById(container.getId())
        .kill({ signal })
        .catch(() => undefined);
    },
    restart: async () => {
      await container.restart();
      await ready();
    },
  };
}
