// The bench's images beyond the distribution image and its recompressions:
// built once from the distribution image's own tree and cached next to the
// test images.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { distributionCpio, installedKernel } from '../test/helpers/real-images.js';

const CACHE = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '.cache', 'test-images');

/** Kernel modules: Ubuntu 24.04 ships them zstd-compressed (.ko.zst), so its initramfs keeps them in an uncompressed segment. */
const MODULES = 'usr/lib/modules';
const LIBS = 'usr/lib/x86_64-linux-gnu';

function cached(name: string, build: (out: string, tree: () => string) => void): string {
  const out = join(CACHE, `${installedKernel()}-bench-${name}`);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'rdrescue-bench-image-'));
  let tree: string | undefined;
  try {
    const tmp = `${out}.tmp-${process.pid}`;
    build(tmp, () => {
      if (!tree) {
        tree = join(work, 'tree');
        mkdirSync(tree);
        execFileSync('sh', ['-c', 'cd "$1" && cpio -idm --quiet < "$2"', 'sh', tree, distributionCpio()]);
      }
      return tree;
    });
    renameSync(tmp, out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** GNU cpio newc of the tree's entries under `tree` selected by a find(1) expression, sorted, appended to `out` (with `| filter`). */
function pack(tree: string, out: string, find: string, filter = 'cat'): void {
  execFileSync('sh', ['-c', `cd "$1" && find . ${find} | sed 's|^\\./||' | LC_ALL=C sort | cpio -o -H newc --quiet | ${filter} >> "$2"`, 'sh', tree, out]);
}

/** Stand-in microcode: incompressible bytes of a real blob's size, the same on every run. */
function microcode(dir: string, vendor: string, bytes: number): void {
  const at = join(dir, 'kernel/x86/microcode', `${vendor}.bin`);
  mkdirSync(dirname(at), { recursive: true });
  const parts: Buffer[] = [];
  let block = createHash('sha512').update(vendor).digest();
  for (let n = 0; n < bytes; n += block.length) parts.push((block = createHash('sha512').update(block).digest()));
  writeFileSync(at, Buffer.concat(parts).subarray(0, bytes));
}

/**
 * Laid out as Ubuntu 24.04's: AMD and Intel microcode in two small early
 * archives, the kernel modules in a large uncompressed archive, and the rest
 * in one zstd member (`zstd -1`, as mkinitramfs compresses).
 */
export function ubuntuStyleImage(): string {
  return cached('ubuntu-style.img', (out, tree) => {
    const early = mkdtempSync(join(tmpdir(), 'rdrescue-bench-early-'));
    try {
      microcode(join(early, 'amd'), 'AuthenticAMD', 60 * 1024);
      microcode(join(early, 'intel'), 'GenuineIntel', 4 * 1024 * 1024);
      pack(join(early, 'amd'), out, '-mindepth 1');
      pack(join(early, 'intel'), out, '-mindepth 1');
    } finally {
      rmSync(early, { recursive: true, force: true });
    }
    const t = tree();
    pack(t, out, `-path ./usr -o -path ./usr/lib -o -path ./${MODULES} -o -path './${MODULES}/*'`);
    pack(t, out, `-path ./${MODULES} -prune -o -print`, 'zstd -q -1 -c');
  });
}

/** A 5 MB zstd image (the tree without modules and libraries, `zstd -1`): what a listing costs when there is little to read. */
export function smallImage(): string {
  return cached('small.img', (out, tree) => pack(tree(), out, `\\( -path ./${MODULES} -o -path ./${LIBS} \\) -prune -o -print`, 'zstd -q -1 -c'));
}
