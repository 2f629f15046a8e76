import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cache.js';
import { run } from './run.js';

export const SEA = join(REPO, 'dist', 'rdrescue');
const BUNDLE = join(REPO, 'dist', 'rdrescue.cjs');
// Test files run in parallel, and two builds writing dist/ at once corrupt the executable.
const LOCK = join(REPO, 'dist', '.sea-build.lock');

function locked<T>(fn: () => T): T {
  mkdirSync(join(REPO, 'dist'), { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock older than any build is left over from a killed run.
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${LOCK} held for 5 minutes`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * Builds the bundle and the single executable from the current source (about
 * 5 s). dist/ is shared: strip fails with "Text file busy" while another
 * process runs the executable, so a failed build is retried a few times.
 */
export function buildSea(): string {
  locked(() => {
    for (let attempt = 1; ; attempt++) {
      try {
        run(process.execPath, [join(REPO, 'scripts/build.mjs')]);
        return;
      } catch (e) {
        if (attempt >= 4) throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
      }
    }
  });
  return SEA;
}

/**
 * `npm test` rebuilds only the bundle; the single executable under test must
 * not be older than it, or a test would exercise yesterday's code.
 */
export function ensureSea(): string {
  return locked(() => {
    if (!existsSync(BUNDLE)) run(process.execPath, [join(REPO, 'scripts/build.mjs'), '--bundle-only']);
    if (!existsSync(SEA) || statSync(SEA).mtimeMs < statSync(BUNDLE).mtimeMs) run(process.execPath, [join(REPO, 'scripts/build.mjs')]);
    return SEA;
  });
}
