import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { spawnLogged, stopProcess, tailFile, waitUntil, type ManagedProcess } from '../provision/processes.js';
import type { BenchEnvironment } from './environment.js';
import { REPO_ROOT } from './repo-root.js';
import { httpGet } from './stats.js';

export { REPO_ROOT };

export interface Child {
  name: string;
  pid: number;
  proc: ManagedProcess;
  /** Resolves once the child has exited; SIGTERM first so it shuts down (and writes its CPU profile). */
  stop(): Promise<void>;
  logTail(): Promise<string>;
}

export interface ChildOptions {
  /** Where `node --cpu-prof` writes this child's profile; no profiling when absent. */
  profileDir?: string | undefined;
  /** Command-line arguments for the entry point. */
  args?: string[];
  /** The npm script the entry is a service of: the child gets that script's environment and Node flags (see serviceLaunch). */
  service?: string;
  /** For a baseline: the npm script whose environment (not its flags) the child gets, so both sides run on the same malloc settings. */
  environmentOf?: string;
  /** More Node flags, to compare them when diagnosing. */
  nodeFlags?: string[];
}

export interface ServiceLaunch {
  /** Variables the script sets before `node` (the malloc tuning). */
  env: Record<string, string>;
  /** The Node flags before the entry (the heap cap, source maps). */
  nodeFlags: string[];
}

/**
 * How `npm run <script>` launches a service (its environment assignments and
 * Node flags), read from package.json so the benchmark measures the service as
 * it is run, from the one place that says how. The image sets the same
 * (compose's NODE_OPTIONS, the Dockerfile's ENV); a unit test keeps them equal.
 */
export function serviceLaunch(script: string): ServiceLaunch {
  const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const tokens = scripts[script]?.split(/\s+/) ?? [];
  const node = tokens.indexOf('node');
  if (node < 0) throw new Error(`package.json has no script ${script} that runs node`);
  const env: Record<string, string> = {};
  for (const assignment of tokens.slice(0, node)) {
    const [name, ...value] = assignment.split('=');
    if (!name || value.length === 0) throw new Error(`package.json script ${script}: ${assignment} before node is not NAME=value`);
    env[name] = value.join('=');
  }
  const entry = tokens.findIndex((token, i) => i > node && !token.startsWith('--'));
  return { env, nodeFlags: tokens.slice(node + 1, entry < 0 ? undefined : entry) };
}

/** dist/<entry>.js for <entry>.ts, which must have been built. */
function bundleOf(entry: string): string {
  const bundle = join(REPO_ROOT, 'dist', relative(REPO_ROOT, entry)).replace(/\.ts$/, '.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npm run build\` (the bench scripts do) and check that scripts/build.mjs lists ${relative(REPO_ROOT, entry)}`);
  return bundle;
}

/**
 * Runs an entry point as its own Node process the way the image runs services:
 * its bundle in dist/ (scripts/build.mjs, which the bench scripts run first)
 * with source maps, no TypeScript loader. stdout/stderr go to a log file in
 * the run directory; the child has its own process group and is killed if the
 * harness dies.
 */
export function spawnChild(env: BenchEnvironment, name: string, entry: string, extraEnv: Record<string, string>, options: ChildOptions = {}): Child {
  const launch = options.service !== undefined ? serviceLaunch(options.service) : { env: options.environmentOf !== undefined ? serviceLaunch(options.environmentOf).env : {}, nodeFlags: [] };
  const flags = [...launch.nodeFlags, ...(options.nodeFlags ?? [])];
  if (!flags.includes('--enable-source-maps')) flags.push('--enable-source-maps');
  const args = [...flags, bundleOf(entry), ...(options.args ?? [])];
  if (options.profileDir) {
    // One directory per child: Node writes one profile per thread it runs.
    const dir = join(options.profileDir, name);
    mkdirSync(dir, { recursive: true });
    args.unshift('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const logFile = join(env.dir, `${name}.log`);
  const proc = spawnLogged(process.execPath, args, { logFile, cwd: REPO_ROOT, env: { ...env.childEnv, ...launch.env, ...extraEnv } });
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  return {
    name,
    pid: proc.pid,
    proc,
    async stop() {
      await stopProcess(proc, 20_000);
    },
    logTail: () => tailFile(logFile, 30),
  };
}

/** Waits until `url` answers 200, failing with the child's log tail if it exits first. */
export async function waitHttpReady(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(async () => (await httpGet(url)).status === 200, {
    what: `${child.name} at ${url}`,
    timeoutMs,
    intervalMs: 100,
    processes: [child.proc],
  });
}

/** Fails with the child's log when it has exited: a dead child must not look like a slow one. */
export async function assertAlive(child: Child): Promise<void> {
  const exit = child.proc.exitInfo();
  if (exit) throw new Error(`${child.name} exited (code ${exit.code}, signal ${exit.signal}):\n${await child.logTail()}`);
}

/** Current and peak resident set size of a process, in MB, from /proc (Linux). */
export async function readRss(pid: number): Promise<{ rssMb: number; hwmMb: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 'NaN');
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/**
 * Samples the RSS of the watched children every 200 ms and keeps the peak
 * per process and per phase. The kernel's own high-water mark (VmHWM) is read
 * too, so a spike between two samples is not missed in the overall peak.
 */
export class MemoryMonitor {
  private readonly watched = new Map<string, number>();
  private readonly peaks: Record<string, Record<string, number>> = {};
  private readonly hwm: Record<string, number> = {};
  private phase = 'setup';
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => void this.sample(), 200);
    this.timer.unref();
  }

  watch(role: string, child: Child): void {
    this.watched.set(role, child.pid);
  }

  /** Takes a last sample of the role (call before stopping its process). */
  async release(role: string): Promise<void> {
    await this.sample();
    this.watched.delete(role);
  }

  async enter(phase: string): Promise<void> {
    await this.sample();
    this.phase = phase;
  }

  /** Peak MB per role: per phase and overall (the larger of the sampled peak and the kernel's VmHWM). */
  report(): Record<string, { peakMb: number; byPhase: Record<string, number> }> {
    const out: Record<string, { peakMb: number; byPhase: Record<string, number> }> = {};
    for (const [role, byPhase] of Object.entries(this.peaks)) {
      const sampled = Math.max(0, ...Object.values(byPhase));
      const hwm = this.hwm[role] ?? 0;
      out[role] = { peakMb: Math.round(Math.max(sampled, hwm)), byPhase: Object.fromEntries(Object.entries(byPhase).map(([k, v]) => [k, Math.round(v)])) };
    }
    return out;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    for (const [role, pid] of this.watched) {
      const rss = await readRss(pid);
      if (!rss) continue;
      const byPhase = (this.peaks[role] ??= {});
      byPhase[this.phase] = Math.max(byPhase[this.phase] ?? 0, rss.rssMb);
      this.hwm[role] = Math.max(this.hwm[role] ?? 0, rss.hwmMb);
    }
  }
}
