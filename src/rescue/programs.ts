import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Rescue images are minimal: dracut ships no `chroot`, some have no perl.
 * Every external program we use is looked up here first so a missing one is
 * reported by name instead of as a spawn ENOENT.
 */
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function findProgram(name: string, path = process.env.PATH || FALLBACK_PATH): string | undefined {
  for (const dir of `${path}${delimiter}${FALLBACK_PATH}`.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      if (!statSync(p).isFile()) continue;
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
