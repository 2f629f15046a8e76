import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that ends. Node's `mkdirSync(p, { recursive: true })` retries
 * forever when mkdir says ENOENT although the parent exists, which is what
 * procfs and sysfs say (`extract IMG /proc/sys/x` spun at 100% CPU): here
 * each missing directory is made once, top-down, and the first failure is
 * thrown as the system's error, naming the directory it was about.
 */
export function makeDirs(path: string): void {
  const missing: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    if (isDir(p)) break;
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p);
    } catch (e) {
      // Made meanwhile by someone else: fine, if it is a directory.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !isDir(p)) throw e;
    }
  }
}

/** A directory, or a link to one (the caller's own path may go through links). */
function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
