import { parseArgs } from 'node:util';
import { compareRuns, loadRunSet, renderComparison } from './comparison.js';

/**
 * `npm run bench:compare -- BEFORE AFTER [--json]`: each side is a result
 * file or a directory of them (a run's --out). Prints every figure of both
 * sides with its change, and a verdict where the runs allow one.
 */
const USAGE = `usage: npm run bench:compare -- BEFORE AFTER [--json]
  BEFORE, AFTER  a result file (bench-results/<timestamp>.json) or a directory of them (what --out names)
  --json         the comparison as JSON instead of the table`;

const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const [beforePath, afterPath] = positionals;
if (positionals.length !== 2 || !beforePath || !afterPath) {
  process.stderr.write(`bench:compare wants two sides, got ${positionals.length}\n${USAGE}\n`);
  process.exit(2);
}
try {
  const before = loadRunSet(beforePath);
  const after = loadRunSet(afterPath);
  const comparison = compareRuns(before, after);
  process.stdout.write(values.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${renderComparison(before, after, comparison)}\n`);
} catch (error) {
  process.stderr.write(`bench:compare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}
