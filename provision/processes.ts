import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly pid: number | undefined;
  readonly logFile: string;
  /** Settles once the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Set once the process has exited. */
  exitInfo(): ExitInfo | undefined;
  /** Signals the child's whole process group. */
  kill(signal?: NodeJS.Signals): void;
}

export interface SpawnLoggedOptions {
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Deleted if this Node process dies without stopping the child (never on a normal exit of the child). */
  tempDirs?: string[];
}

// Children still running; killed synchronously when this Node process exits.
const live = new Set<{ pid: number; watchdog: ChildProcess; tempDirs: string[] }>();
let exitHookInstalled = false;

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const entry of live) {
      signalGroup(entry.pid, 'SIGKILL');
      entry.watchdog.kill('SIGKILL');
      for (const dir of entry.tempDirs) rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * 'exit' handlers do not run when this process is SIGKILLed or dies on an unhandled
 * signal (vitest may do either to a stuck worker). A tiny shell holds the read end
 * of a pipe whose write end only we own; when we die for any reason the kernel
 * closes it, `read` returns and the shell kills the child's process group and
 * removes its temp dirs. (dash's kill rejects `--`, hence `-KILL -<pgid>`.)
 */
function startWatchdog(pid: number, tempDirs: string[]): ChildProcess {
  const script = 'read -r _; kill -KILL -"$1" 2>/dev/null; shift; [ "$#" -eq 0 ] || rm -rf -- "$@"';
  const watchdog = spawn('sh', ['-c', script, 'notai-watchdog', String(pid), ...tempDirs], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  // Neither the watchdog nor its pipe should keep our event loop alive.
  watchdog.unref();
  if (watchdog.stdin instanceof net.Socket) watchdog.stdin.unref();
  watchdog.stdin?.on('error', () => undefined);
  return watchdog;
}

/**
 * Spawns a long-running child with stdout+stderr appended to `logFile` (never our
 * own stdout), in its own process group so a kill reaches anything it forks.
 */
export function spawnLogged(command: string, args: string[], opts: SpawnLoggedOptions): ManagedProcess {
  installExitHook();
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  let info: ExitInfo | undefined;
  const pid = child.pid;
  const tempDirs = opts.tempDirs ?? [];
  const entry = pid === undefined ? undefined : { pid, watchdog: startWatchdog(pid, tempDirs), tempDirs };
  if (entry) live.add(entry);
  const exited = new Promise<ExitInfo>((resolve) => {
    const finish = (result: ExitInfo): void => {
      if (info) return;
      info = result;
      if (entry) {
        live.delete(entry);
        entry.watchdog.kill('SIGKILL');
      }
      resolve(result);
    };
    child.once('exit', (code, signal) => finish({ code, signal }));
    // Spawn failures (ENOENT) emit 'error' and may never emit 'exit'.
    child.once('error', () => finish({ code: -1, signal: null }));
  });
  return {
    pid,
    logFile: opts.logFile,
    exited,
    exitInfo: () => info,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (pid !== undefined && !info) signalGroup(pid, signal);
    },
  };
}

/** Waits up to `timeoutMs` for the process to exit; undefined if it is still running. */
export async function waitForExit(proc: ManagedProcess, timeoutMs: number): Promise<ExitInfo | undefined> {
  const ac = new AbortController();
  try {
    return await Promise.race([proc.exited, sleep(timeoutMs, undefined, { signal: ac.signal }).catch(() => undefined)]);
  } finally {
    ac.abort();
  }
}

/** SIGTERM, then SIGKILL if the process has not exited after `graceMs`. */
export async function stopProcess(proc: ManagedProcess, graceMs = 15_000): Promise<ExitInfo> {
  const already = proc.exitInfo();
  if (already) return already;
  proc.kill('SIGTERM');
  const info = await waitForExit(proc, graceMs);
  if (info) return info;
  proc.kill('SIGKILL');
  return proc.exited;
}

export async function tailFile(path: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return `(no log at ${path})`;
  }
}

export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a short-lived command to completion, capturing its output (for format/create tools). */
export function runCommand(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      output += `\n(killed after ${opts.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 300_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, output: `${output}${err.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export interface WaitUntilOptions {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Fails fast when one of these processes exits before the condition holds. */
  processes?: ManagedProcess[];
  /** More logs (besides the process's own) whose tail explains a failure. */
  logFiles?: string[];
}

/**
 * Polls `probe` until it returns true. Fails with the child's log tail when the
 * child exits or the deadline passes, so a broken start says why.
 */
export async function waitUntil(probe: () => Promise<boolean>, opts: WaitUntilOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    for (const proc of opts.processes ?? []) {
      const exit = proc.exitInfo();
      if (exit) throw await failure(opts, `exited (pid ${proc.pid}, code ${exit.code}, signal ${exit.signal}) before ready`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw await failure(opts, `not ready after ${opts.timeoutMs} ms`);
    await sleep(opts.intervalMs ?? 200);
  }
}

async function failure(opts: WaitUntilOptions, why: string): Promise<Error> {
  const files = [...(opts.processes ?? []).map((p) => p.logFile), ...(opts.logFiles ?? [])];
  const tails = await Promise.all(files.map(async (f) => `\n--- ${f} (tail) ---\n${await tailFile(f)}`));
  return new Error(`${opts.what} ${why}${tails.join('')}`);
}
