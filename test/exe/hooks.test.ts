import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '../../src/version.js';
import { buildDracut, buildInitramfsTools, HOOKS_DIR } from '../vm/initramfs.js';
import { installedKernel } from '../vm/kernel.js';
import { run } from '../vm/run.js';
import { buildRootTreeWithRdrescue } from '../vm/disk.js';
import { ensureSea } from '../vm/sea.js';

// Real dracut and mkinitramfs runs with the hooks from initramfs-hooks/,
// unpacked by the distribution's own unmkinitramfs: rdrescue must be inside
// and run from there.
const SEA = ensureSea();
const { kver } = installedKernel();
const work = mkdtempSync(join(tmpdir(), 'rdrescue-hooks-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** unmkinitramfs puts a single archive straight into DIR, several into early*, main. */
function unpacked(img: string, dir: string): string {
  run('unmkinitramfs', [img, dir]);
  return existsSync(join(dir, 'main')) ? join(dir, 'main') : dir;
}

/** dracut --no-compress without microcode is one plain archive (unmkinitramfs misreads large ones). */
function unpackedCpio(img: string, dir: string): string {
  mkdirSync(dir);
  run('sh', ['-c', 'cpio -idm --quiet --no-absolute-filenames < "$1"', 'sh', img], { cwd: dir });
  return dir;
}

function checkTree(t: Test, tree: string, what: string): void {
  const libc = join(tree, 'usr/lib/rdrescue/lib/libc.so.6');
  t.ok(existsSync(libc), `${what}: private libc`);
  t.ok(readdirSync(join(tree, 'usr/lib/rdrescue/lib')).includes('libstdc++.so.6'), `${what}: private libstdc++`);
  t.ok(['usr/sbin/chroot', 'usr/bin/chroot', 'sbin/chroot', 'bin/chroot'].some((p) => existsSync(join(tree, p))), `${what}: chroot is in the image`);
  const r = spawnSync('chroot', [tree, '/usr/bin/rdrescue', '--version'], { encoding: 'utf8' });
  t.equal(r.stdout.trim(), VERSION, `${what}: chroot TREE /usr/bin/rdrescue --version (${r.stderr.trim()})`);
  const help = spawnSync('chroot', [tree, '/usr/bin/rdrescue', 'passwd', '--help'], { encoding: 'utf8' });
  t.match(help.stdout, /password-stdin/, `${what}: the rescue commands are there`);
}

/** The thin launcher only: rdrescue's executable and libraries stay on the root. */
function checkThin(t: Test, tree: string, what: string, rootDir: string): void {
  t.match(readFileSync(join(tree, 'usr/bin/rdrescue'), 'utf8'), /^# rdrescue thin launcher/m, `${what}: /usr/bin/rdrescue is the thin launcher`);
  t.notOk(existsSync(join(tree, 'usr/lib/rdrescue/lib')) || existsSync(join(tree, 'usr/lib/rdrescue/rdrescue')), `${what}: no executable or library of rdrescue's in the image`);
  // The unpacked image as the rescue shell sees it, the locked-out root mounted where the generator mounts it.
  const mounts = [['-t', 'proc', 'proc', join(tree, 'proc')], ['--bind', TARGET, join(tree, rootDir)]];
  for (const m of mounts) {
    mkdirSync(m[m.length - 1], { recursive: true }); // initramfs-tools' init makes /proc and /root at boot
    run('mount', m);
  }
  try {
    const r = spawnSync('chroot', [tree, '/usr/bin/rdrescue', 'env', '--json'], { encoding: 'utf8' });
    t.equal(JSON.parse(r.stdout || '{}').target?.root, `/${rootDir}`, `${what}: the launcher in the image starts the root's rdrescue on that root (${r.stderr.trim()})`);
  } finally {
    for (const m of mounts.reverse()) spawnSync('umount', [m[m.length - 1]]);
  }
}

// The locked-out root with rdrescue installed as the packages install it.
const TARGET = join(work, 'target');
buildRootTreeWithRdrescue(TARGET, SEA);

t.test('dracut module 95rdrescue puts the thin launcher into the image by default', async (t) => {
  const img = join(work, 'dracut-thin.img');
  buildDracut(kver, img, { hookExe: SEA });
  const tree = unpackedCpio(img, join(work, 'dracut-thin'));
  checkThin(t, tree, 'dracut', 'sysroot');
  t.ok(['usr/sbin/chroot', 'usr/bin/chroot', 'sbin/chroot', 'bin/chroot'].some((p) => existsSync(join(tree, p))), 'chroot is in the image');
  t.match(readFileSync(join(tree, 'usr/lib/dracut/hooks/pre-pivot/90-dracut-pre-pivot.sh'), 'utf8'), /boot-runbook\.sh/, 'the pre-pivot hook for unattended runbooks is installed');
});

t.test('dracut module with RDRESCUE_MODE=full in dracut.conf.d puts a working rdrescue and chroot into the image', async (t) => {
  const img = join(work, 'dracut.img');
  buildDracut(kver, img, { hookExe: SEA, full: true });
  const tree = unpackedCpio(img, join(work, 'dracut'));
  checkTree(t, tree, 'dracut');
});

t.test('initramfs-tools hook puts the thin launcher into the image by default', async (t) => {
  const img = join(work, 'itools-thin.img');
  buildInitramfsTools(kver, img, { hookExe: SEA });
  const tree = unpacked(img, join(work, 'itools-thin'));
  checkThin(t, tree, 'initramfs-tools', 'root');
  t.ok(existsSync(join(tree, 'scripts/init-bottom/rdrescue-runbook')), 'the init-bottom script for unattended runbooks is installed');
  t.match(readFileSync(join(tree, 'scripts/init-bottom/ORDER'), 'utf8'), /^\/scripts\/init-bottom\/rdrescue-runbook /m, 'and mkinitramfs lists it in init-bottom/ORDER');
});

t.test('initramfs-tools hook with RDRESCUE_MODE=full in conf.d puts a working rdrescue into the image', async (t) => {
  const img = join(work, 'itools.img');
  buildInitramfsTools(kver, img, { hookExe: SEA, full: true });
  const tree = unpacked(img, join(work, 'itools'));
  checkTree(t, tree, 'initramfs-tools');
  t.same(readFileSync(join(tree, 'usr/lib/rdrescue/rdrescue')).length, readFileSync(SEA).length, 'the executable is the one given');
});

t.test('initramfs-tools hook without the executable warns and lets the build go on', async (t) => {
  const dest = join(work, 'no-exe');
  mkdirSync(dest);
  const r = spawnSync('sh', [join(HOOKS_DIR, 'initramfs-tools/hooks/rdrescue')], {
    encoding: 'utf8',
    env: { ...process.env, DESTDIR: dest, RDRESCUE_EXE: join(work, 'missing-rdrescue') },
  });
  t.equal(r.status, 0, 'a kernel upgrade is not stopped by a missing rescue tool');
  t.match(r.stderr, /^W: rdrescue: executable not found/m, 'it says so');
  t.same(readdirSync(dest), [], 'nothing half-installed');
});

t.test('dracut module check refuses without the executable, so an explicit --add fails loudly', async (t) => {
  const r = spawnSync('bash', ['-c', 'dwarn() { echo "$*" >&2; }; . "$1"; check', 'sh', join(HOOKS_DIR, 'dracut/95rdrescue/module-setup.sh')], {
    encoding: 'utf8',
    env: { ...process.env, RDRESCUE_EXE: join(work, 'missing-rdrescue'), PATH: '/usr/bin:/bin' },
  });
  t.not(r.status, 0, 'check() fails');
  t.match(r.stderr, /rdrescue: executable not found/, 'and says why');
});
