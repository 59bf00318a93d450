import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDirLock } from './dir-lock.js';
import { runCommand } from './processes.js';

/** Must match <kafka.version> in provision/kafka/pom.xml. */
export const KAFKA_VERSION = '3.9.1';

const POM = fileURLToPath(new URL('./kafka/pom.xml', import.meta.url));

export function notaiCacheDir(): string {
  return process.env.NOTAI_CACHE_DIR || join(homedir(), '.cache', 'notai');
}

async function readMarker(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Returns a directory holding the broker's runtime jars (use as `<dir>/*` on the
 * classpath), fetching them with Maven the first time.
 *
 * The marker is written only after a complete copy and records the POM's hash,
 * so an interrupted fetch or an edited POM triggers a new fetch while a normal
 * second run does no Maven work at all.
 */
export async function ensureKafkaJars(opts: { log?: (msg: string) => void } = {}): Promise<string> {
  const base = join(notaiCacheDir(), `kafka-${KAFKA_VERSION}`);
  const libs = join(base, 'libs');
  const marker = join(libs, '.complete');
  const pomHash = createHash('sha256').update(await readFile(POM)).digest('hex');
  if ((await readMarker(marker)) === pomHash) return libs;

  await mkdir(base, { recursive: true });
  return withDirLock(
    join(base, '.lock'),
    async () => {
      // Another worker may have finished while we waited for the lock.
      if ((await readMarker(marker)) === pomHash) return libs;
      const staging = join(base, `libs.staging-${process.pid}`);
      await rm(staging, { recursive: true, force: true });
      opts.log?.(`fetching Kafka ${KAFKA_VERSION} jars into ${libs} (mvn)`);
      const started = Date.now();
      const result = await runCommand(
        'mvn',
        [
          '-q',
          '-B',
          '-f',
          POM,
          'dependency:copy-dependencies',
          `-DoutputDirectory=${staging}`,
          '-DincludeScope=runtime',
        ],
        { timeoutMs: 15 * 60_000 },
      );
      if (result.code !== 0) {
        await rm(staging, { recursive: true, force: true });
        const hint = result.code === -1 ? ' (is Maven installed? apt-get install -y maven)' : '';
        throw new Error(`mvn failed with code ${result.code}${hint}:\n${result.output.slice(-4_000)}`);
      }
      const jars = (await readdir(staging)).filter((f) => f.endsWith('.jar'));
      if (!jars.some((f) => f.startsWith('kafka_2.13-'))) throw new Error(`mvn produced no kafka_2.13 jar in ${staging}`);
      await writeFile(join(staging, '.complete'), `${pomHash}\n`);
      // Swap in whole so no reader ever sees a half-filled libs dir.
      const old = join(base, `libs.old-${process.pid}`);
      await rename(libs, old).catch(() => undefined);
      await rename(staging, libs);
      await rm(old, { recursive: true, force: true });
      opts.log?.(`fetched ${jars.length} jars in ${Date.now() - started} ms`);
      return libs;
    },
    opts.log ? { log: opts.log } : {},
  );
}
