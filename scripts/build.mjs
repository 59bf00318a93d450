// Bundles the long-running entry points to plain JavaScript in dist/, so they
// run on bare Node: tsx's loader thread and its transform cache cost every
// process about 30 MB of RSS (a projector under tsx 112 MB after start-up,
// the same code bundled 77 MB). One file per entry, packages left in
// node_modules; source maps point stack traces back at the TypeScript.
// Tests and one-off CLIs keep running the sources through tsx.
//   node scripts/build.mjs        (npm run build; the image and the benchmark run it)
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the image runs (its roles and the keys CLI), and the benchmark's measured children and baselines. */
const BUNDLED_ENTRIES = [
  'services/api.ts',
  'services/projector.ts',
  'services/rebuild.ts',
  'services/migrate.ts',
  'services/keys/main.ts',
  'bench/raw-consumer.child.ts',
  'bench/bare-koa.child.ts',
  'bench/load.child.ts',
];

const started = performance.now();
const { outputFiles } = await build({
  absWorkingDir: root,
  entryPoints: BUNDLED_ENTRIES,
  outbase: '.',
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  // Only file and line mapping: the sources stay in the repository, and Node keeps a loaded map in memory.
  sourcesContent: false,
  logLevel: 'warning',
  write: false,
});
// Each file replaced by a rename: workers started together (`npm run projector` builds first) may load
// a bundle while another build writes it, and must find the old file or the new one, never half of one.
for (const file of outputFiles) {
  await mkdir(dirname(file.path), { recursive: true });
  const partial = `${file.path}.${process.pid}.partial`;
  await writeFile(partial, file.contents);
  await rename(partial, file.path);
}
console.log(`bundled ${BUNDLED_ENTRIES.length} entry points into dist/ in ${Math.round(performance.now() - started)} ms`);
