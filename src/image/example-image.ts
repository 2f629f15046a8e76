import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** fixtures/example-image.img in base64, put into the bundle by scripts/build.mjs; undefined when the source runs as is (tsx). */
declare const RDRESCUE_EXAMPLE_IMAGE: string | undefined;

/**
 * The small image (an early microcode part and a gzip main part, built by
 * scripts/example-image.sh with rdrescue's own repack) that `rdrescue info`
 * shows on a machine with no initramfs at all, so the first command a
 * newcomer runs always shows a report.
 */
export function exampleImageBytes(): Buffer {
  if (typeof RDRESCUE_EXAMPLE_IMAGE === 'string') return Buffer.from(RDRESCUE_EXAMPLE_IMAGE, 'base64');
  return readFileSync(new URL('../../fixtures/example-image.img', import.meta.url));
}

/** Runs fn on a private copy of the example image, since the readers read files; the copy is removed afterwards. */
export async function withExampleImage<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-example-'));
  try {
    const path = join(dir, 'example.img');
    writeFileSync(path, exampleImageBytes(), { mode: 0o600 });
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
