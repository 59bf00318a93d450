import { fileURLToPath } from 'node:url';
import { freePort, LOOPBACK } from '../../provision/free-port.js';
import { spawnLogged, stopProcess, tailFile, waitUntil, type ExitInfo, type ManagedProcess } from '../../provision/processes.js';

/**
 * A projector worker as a real child process (`node --import tsx
 * services/projector.ts`), for tests that must kill it the way an orchestrator
 * or the kernel would: SIGKILL leaves no chance to flush, commit or leave the
 * group cleanly, which no in-process stop can imitate.
 */
export interface ProjectorProcess {
  readonly pid: number | undefined;
  /** Its probe port (PROJECTOR_METRICS_PORT): /health, /readyz, /metrics. */
  readonly port: number;
  readonly logFile: string;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  exitInfo(): ExitInfo | undefined;
  /** Resolves once /readyz answers 200 (in the group, last batch accepted); fails with the log tail if it exits first. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Signals the process (default SIGKILL) without waiting. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with how it exited. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** The last lines of its log. */
  tail(lines?: number): Promise<string>;
}

export interface ProjectorProcessOptions {
  /** Configuration of the child (KAFKA_*, REDIS_*, CLICKHOUSE_*, BATCH_*, NOTAI_CRASH_AT ...). */
  env: Record<string, string>;
  /** stdout and stderr are appended here, never to the test's own output. */
  logFile: string;
  /** Which process: the projector (default) or the API. */
  entry?: 'projector' | 'api';
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Only what a process needs from the test's environment: the test runner's own
 * variables (VITEST_*, NODE_OPTIONS, an outer REDIS_URL) must not leak in.
 */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export async function startProjectorProcess(options: ProjectorProcessOptions): Promise<ProjectorProcess> {
  const port = await freePort();
  const entry = options.entry ?? 'projector';
  // The probe port: the projector's metrics listener, or the API's own port.
  const portVar = entry === 'api' ? 'API_PORT' : 'PROJECTOR_METRICS_PORT';
  const env = { ...baseEnv(), NODE_ENV: 'test', API_HOST: LOOPBACK, ...options.env, [portVar]: String(port) };
  const proc: ManagedProcess = spawnLogged(process.execPath, ['--import', 'tsx', `services/${entry}.ts`], {
    logFile: options.logFile,
    cwd: ROOT,
    env,
  });

  const ready = async (): Promise<boolean> => {
    const response = await fetch(`http://${LOOPBACK}:${port}/readyz`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.status === 200;
  };

  return {
    pid: proc.pid,
    port,
    logFile: options.logFile,
    exited: proc.exited,
    exitInfo: () => proc.exitInfo(),
    waitReady: (timeoutMs = 60_000) =>
      waitUntil(ready, { what: `${entry} child (pid ${proc.pid}) /readyz`, timeoutMs, intervalMs: 100, processes: [proc] }),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => proc.kill(signal),
    stop: (graceMs = 15_000) => stopProcess(proc, graceMs),
    tail: (lines = 40) => tailFile(options.logFile, lines),
  };
}
