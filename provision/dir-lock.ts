import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DirLockOptions {
  /** Give up waiting after this long. */
  timeoutMs?: number;
  /** A lock older than this is presumed abandoned even if its pid looks alive (pid reuse). */
  staleMs?: number;
  log?: (msg: string) => void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStale(lockDir: string, staleMs: number): Promise<boolean> {
  try {
    const info = await stat(lockDir);
    if (Date.now() - info.mtimeMs > staleMs) return true;
    const owner = Number((await readFile(join(lockDir, 'owner'), 'utf8')).trim());
    return Number.isInteger(owner) && owner > 0 && !pidAlive(owner);
  } catch {
    // Vanished, or the owner file is not written yet: not stale.
    return false;
  }
}

/**
 * Runs `fn` while holding an exclusive lock across processes on this machine.
 * mkdir is atomic, so it works without native flock bindings; the owner pid lets
 * a later caller break the lock of a worker that crashed mid-download.
 */
export async function withDirLock<T>(lockDir: string, fn: () => Promise<T>, opts: DirLockOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15 * 60_000);
  const staleMs = opts.staleMs ?? 20 * 60_000;
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isStale(lockDir, staleMs)) {
      opts.log?.(`breaking stale lock ${lockDir}`);
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir}`);
    if (!announced) opts.log?.(`waiting for lock ${lockDir}`);
    announced = true;
    await sleep(250);
  }
  try {
    await writeFile(join(lockDir, 'owner'), String(process.pid));
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
