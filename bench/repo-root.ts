import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: child processes run from it, and entry points are found under it. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
