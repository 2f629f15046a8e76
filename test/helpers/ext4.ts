import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real ext4 filesystem holding a root tree, mounted the way dracut leaves
 * /sysroot at rd.break: a writable loop device, the filesystem mounted
 * read-only (so `mount -o remount,rw` works, as on real hardware). Note that
 * `mount -o loop,ro` would make the loop device itself read-only and no
 * remount could ever succeed; `readOnlyDevice` gives that case on purpose.
 *
 *   const r = makeExt4Root({ tree: 'fixtures/rescue/rhel', files: { 'etc/shadow': { mode: 0 } } });
 *   t.teardown(() => r.cleanup());
 *   ... r.mnt is the target root ...
 *   r.unmount(); debugfsCat(r.image, '/etc/shadow')
 *
 * cleanup() unmounts (recursively, lazily if busy), detaches the loop device
 * and removes the scratch directory; it is also run at process exit, so a
 * failing test never leaks a loop device.
 */
export interface Ext4Options {
  /** Directory copied into the filesystem. */
  tree: string;
  /** Filesystem size in MiB (default 16). */
  sizeMiB?: number;
  /** Ownership and mode per path (relative to the tree), applied before mkfs. */
  files?: Record<string, { mode?: number; uid?: number; gid?: number }>;
  /** Empty directories to create (default: the API mount points a real root has). */
  dirs?: string[];
  /** Any other change to the staging copy before mkfs. */
  prepare?: (staging: string) => void;
  /** Attach the loop device read-only (losetup -r): the filesystem can never go rw. */
  readOnlyDevice?: boolean;
  /** Mount read-write instead of read-only. */
  rw?: boolean;
  /** Mark the filesystem as not cleanly unmounted (superblock state 0) before mounting. */
  dirty?: boolean;
  /** Record errors in the superblock (state ERROR_FS, error_count 2), as the kernel does when it meets corruption. */
  recordedErrors?: boolean;
}

export interface Ext4Root {
  /** The image file. */
  image: string;
  /** /dev/loopN. */
  loop: string;
  /** Where the filesystem is mounted: the target root. */
  mnt: string;
  /** Scratch directory holding everything. */
  dir: string;
  mounted(): boolean;
  /** Unmounts everything at and below mnt (the loop device stays attached). */
  unmount(): void;
  /** Unmounts, detaches and removes the scratch directory. Safe to call twice. */
  cleanup(): void;
}

export const DEFAULT_DIRS = ['proc', 'sys', 'dev', 'run', 'tmp', 'var/log', 'root', 'home'];

const live = new Set<Ext4Root>();
process.on('exit', () => {
  for (const r of live) r.cleanup();
});

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}

/** Mount points at or below `path` (from /proc/self/mountinfo), innermost last. */
export function mountsBelow(path: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m !== undefined && (m === path || m.startsWith(`${path}/`)));
}

export function makeExt4Root(o: Ext4Options): Ext4Root {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-ext4-'));
  const staging = join(dir, 'tree');
  const image = join(dir, 'root.img');
  const mnt = join(dir, 'sysroot');
  cpSync(o.tree, staging, { recursive: true });
  for (const d of o.dirs ?? DEFAULT_DIRS) mkdirSync(join(staging, d), { recursive: true });
  for (const [p, f] of Object.entries(o.files ?? {})) {
    const full = join(staging, p);
    if (f.uid !== undefined || f.gid !== undefined) chownSync(full, f.uid ?? 0, f.gid ?? 0);
    if (f.mode !== undefined) chmodSync(full, f.mode);
  }
  o.prepare?.(staging);
  mkdirSync(mnt);
  sh('mkfs.ext4', ['-q', '-F', '-d', staging, image, `${o.sizeMiB ?? 16}M`]);
  if (o.dirty) sh('debugfs', ['-w', '-R', 'ssv state 0', image]);
  if (o.recordedErrors) for (const req of ['ssv state 3', 'ssv error_count 2']) sh('debugfs', ['-w', '-R', req, image]);
  const loop = sh('losetup', [...(o.readOnlyDevice ? ['-r'] : []), '-f', '--show', image]);
  let detached = false;
  const r: Ext4Root = {
    image,
    loop,
    mnt,
    dir,
    mounted: () => isMounted(mnt),
    unmount() {
      for (const m of mountsBelow(mnt).reverse()) {
        let err = '';
        for (let i = 0; i < 50; i++) {
          const u = spawnSync('umount', [m], { encoding: 'utf8' });
          if (u.status === 0) break;
          err = u.stderr.trim();
          // a process that just exited may still hold a file open for a moment
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        }
        if (isMounted(m)) throw new Error(`cannot unmount ${m}: ${err}`);
      }
    },
    cleanup() {
      try {
        r.unmount();
      } catch {
        for (const m of mountsBelow(mnt).reverse()) spawnSync('umount', ['-l', m]);
      }
      if (!detached) {
        spawnSync('losetup', ['-d', loop]);
        detached = true;
      }
      rmSync(dir, { recursive: true, force: true });
      live.delete(r);
    },
  };
  live.add(r);
  try {
    sh('mount', ['-t', 'ext4', '-o', o.rw ? 'rw' : 'ro', loop, mnt]);
  } catch (e) {
    r.cleanup();
    throw e;
  }
  return r;
}

/** A file's content read straight from the image with debugfs (the filesystem must be unmounted). */
export function debugfsCat(image: string, path: string): Buffer {
  const r = spawnSync('debugfs', ['-R', `cat ${path}`, image], { maxBuffer: 1 << 26 });
  const err = r.stderr.toString().replace(/^debugfs [^\n]*\n/, '').trim();
  if (r.status !== 0 || err) throw new Error(`debugfs cat ${path}: ${err || `exit ${r.status}`}`);
  return r.stdout;
}

/** Mode, uid and gid of a file as debugfs sees them in the image. */
export function debugfsStat(image: string, path: string): { mode: number; uid: number; gid: number } {
  const out = spawnSync('debugfs', ['-R', `stat ${path}`, image], { encoding: 'utf8' }).stdout;
  const mode = /Mode:\s+0?([0-7]+)/.exec(out);
  const ids = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(out);
  if (!mode || !ids) throw new Error(`debugfs stat ${path}: ${out}`);
  return { mode: parseInt(mode[1], 8), uid: Number(ids[1]), gid: Number(ids[2]) };
}
