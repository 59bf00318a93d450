import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';

/** Linux reports utime/stime in clock ticks; 100 per second on every kernel we run on (getconf CLK_TCK). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system, all threads) a process has used so far; null once it is gone. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

export type CpuShare = Record<string, { cpuSeconds: number; coresBusy: number }>;

/**
 * Who used the CPU during a span: per process, CPU seconds and the average
 * number of cores kept busy. On two cores this says what bounds a throughput
 * figure: a process near 1.0 is saturated (Node runs JS on one thread); all of
 * them together near 2.0 means the machine is.
 */
export async function measureCpu(pids: Readonly<Record<string, number | undefined>>): Promise<() => Promise<CpuShare>> {
  const started = performance.now();
  const before: Record<string, number> = {};
  for (const [role, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    const s = await cpuSeconds(pid);
    if (s !== null) before[role] = s;
  }
  return async () => {
    const wall = (performance.now() - started) / 1000;
    const out: CpuShare = {};
    for (const [role, pid] of Object.entries(pids)) {
      if (pid === undefined || before[role] === undefined) continue;
      const after = await cpuSeconds(pid);
      if (after === null) continue;
      const used = after - before[role]!;
      out[role] = { cpuSeconds: Math.round(used * 10) / 10, coresBusy: Math.round((used / wall) * 100) / 100 };
    }
    return out;
  };
}

export function describeCpu(share: CpuShare): string {
  return Object.entries(share)
    .sort(([, a], [, b]) => b.coresBusy - a.coresBusy)
    .map(([role, s]) => `${role} ${s.coresBusy.toFixed(2)}`)
    .join(', ');
}

/** Busy and total jiffies of the whole machine (all cpus), from /proc/stat. */
async function machineTicks(): Promise<{ busy: number; total: number } | null> {
  try {
    const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * Cores busy on the whole machine from now until the returned function is
 * called, whoever used them (other work on a shared machine included): near
 * the core count, every figure of the span was measured on a saturated
 * machine. Null where /proc/stat cannot be read.
 */
export async function measureMachine(): Promise<() => Promise<number | null>> {
  const before = await machineTicks();
  return async () => {
    const after = await machineTicks();
    if (!before || !after) return null;
    return Math.round(((after.busy - before.busy) / Math.max(1, after.total - before.total)) * cpus().length * 100) / 100;
  };
}
