import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

/** Kept between runs (git-ignored; CI may keep it): base images are slow to build, the rescue itself never is. */
export const CACHE_DIR = process.env.RDRESCUE_VM_CACHE ?? join(REPO, '.cache', 'vm');

/**
 * The files that decide what a cached artifact contains. Editing any of them
 * (or the hooks baked into images) makes a new key, so a stale image is never reused.
 */
const KEY_SOURCES = ['test/vm/cache.ts', 'test/vm/kernel.ts', 'test/vm/disk.ts', 'test/vm/initramfs.ts'];

export function cacheKey(kver: string, extra: string[] = []): string {
  const h = createHash('sha256');
  for (const f of [...KEY_SOURCES, ...extra]) h.update(f).update('\0').update(readFileSync(join(REPO, f))).update('\0');
  return `${kver}-${h.digest('hex').slice(0, 12)}`;
}

/**
 * Returns `CACHE_DIR/name`, building it first if missing. The builder writes
 * to a temporary path that is renamed into place, so an interrupted build
 * never leaves a half-made artifact that a later run would trust.
 */
export async function cached(name: string, build: (tmpPath: string) => Promise<void>): Promise<{ path: string; built: boolean }> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const path = join(CACHE_DIR, name);
  if (existsSync(path)) return { path, built: false };
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await build(tmp);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { path, built: true };
}

/** Images made under another key are stale for good (a builder changed): drop them so a kept CI cache does not grow run after run. */
export function pruneStale(key: string): void {
  if (!existsSync(CACHE_DIR)) return;
  for (const f of readdirSync(CACHE_DIR)) {
    if (/-[0-9a-f]{12}\.img$/.test(f) && !f.endsWith(`-${key}.img`)) rmSync(join(CACHE_DIR, f), { force: true });
  }
}
