import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir, constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { extractImage } from '../image/extract.js';
import { onTerminatingSignal } from './signals.js';

const PREFIX = 'rdrescue-sandbox-';

/**
 * Extracts an image's merged tree (what the kernel would see) into a
 * temporary directory, hands it to `fn` and removes it afterwards, also when
 * rdrescue is interrupted. A SIGKILL cannot be caught: the directory is named
 * after our PID, and the next run removes directories whose process is gone.
 */
export async function withExtractedImage<T>(image: string, fn: (dir: string) => Promise<T>, onWarning?: (m: string) => void): Promise<T> {
  sweepStale();
  const tmp = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  // Until the sandbox runs there is nothing to forward a signal to: clean up and go.
  const release = onTerminatingSignal((sig) => {
    cleanup();
    process.exit(128 + (osConstants.signals[sig] ?? 0));
  });
  try {
    const dir = join(tmp, 'root');
    await extractImage(image, dir, { merged: true, onWarning });
    return await fn(dir);
  } finally {
    release();
    cleanup();
  }
}

/** Removes temporary trees left by a rdrescue that was SIGKILLed (its PID no longer runs). */
export function sweepStale(dir: string = tmpdir()): string[] {
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const name of readdirSync(dir)) {
    const m = /^rdrescue-sandbox-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st?.isDirectory() || st.uid !== uid) continue;
    if (statSync(`/proc/${m[1]}`, { throwIfNoEntry: false })) continue;
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}
