import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DIRS, isMounted, mountsBelow } from './ext4.js';

/**
 * A root tree on a real ext4, XFS or btrfs filesystem in a loop device,
 * prepared while mounted read-write (so a test can set labels and ACLs with
 * setfattr/setfacl, which mkfs -d cannot), then remounted read-only, as
 * dracut leaves /sysroot at rd.break. cleanup() unmounts and detaches; it
 * also runs at process exit.
 */
export type LoopFs = 'ext4' | 'xfs' | 'btrfs';

export interface LoopRoot {
  image: string;
  loop: string;
  mnt: string;
  dir: string;
  cleanup(): void;
}

const live = new Set<LoopRoot>();
process.on('exit', () => {
  for (const r of live) r.cleanup();
});

const SIZE: Record<LoopFs, string> = { ext4: '32M', xfs: '320M', btrfs: '128M' };
const MKFS: Record<LoopFs, string[]> = { ext4: ['mkfs.ext4', '-q', '-F'], xfs: ['mkfs.xfs', '-q', '-f'], btrfs: ['mkfs.btrfs', '-q', '-f'] };

export function makeLoopRoot(fs: LoopFs, tree: string, prepare: (mnt: string) => void = () => {}, opts: { mountOptions?: string[] } = {}): LoopRoot {
  const dir = mkdtempSync(join(tmpdir(), `rdrescue-${fs}-`));
  const image = join(dir, 'root.img');
  const mnt = join(dir, 'sysroot');
  mkdirSync(mnt);
  execFileSync('truncate', ['-s', SIZE[fs], image]);
  const [mkfs, ...args] = MKFS[fs];
  execFileSync(mkfs, [...args, image], { stdio: 'ignore' });
  const loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
  const r: LoopRoot = {
    image,
    loop,
    mnt,
    dir,
    cleanup() {
      for (const m of mountsBelow(mnt).reverse()) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
      spawnSync('losetup', ['-d', loop]);
      rmSync(dir, { recursive: true, force: true });
      live.delete(r);
    },
  };
  live.add(r);
  try {
    execFileSync('mount', ['-t', fs, ...(opts.mountOptions ?? []), loop, mnt]);
    cpSync(tree, mnt, { recursive: true });
    for (const d of DEFAULT_DIRS) mkdirSync(join(mnt, d), { recursive: true });
    prepare(mnt);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    if (!isMounted(mnt)) throw new Error(`${mnt} is not mounted`);
  } catch (e) {
    r.cleanup();
    throw e;
  }
  return r;
}
