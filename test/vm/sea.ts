import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cache.js';
import { run } from './run.js';

export const SEA = join(REPO, 'dist', 'rdrescue');
const BUNDLE = join(REPO, 'dist', 'rdrescue.cjs');

/** Builds the bundle and the single executable from the current source (about 5 s). */
export function buildSea(): string {
  run(process.execPath, [join(REPO, 'scripts/build.mjs')]);
  return SEA;
}

/**
 * `npm test` rebuilds only the bundle; the single executable under test must
 * not be older than it, or a test would exercise yesterday's code.
 */
export function ensureSea(): string {
  if (!existsSync(BUNDLE)) run(process.execPath, [join(REPO, 'scripts/build.mjs'), '--bundle-only']);
  if (!existsSync(SEA) || statSync(SEA).mtimeMs < statSync(BUNDLE).mtimeMs) return buildSea();
  return SEA;
}
