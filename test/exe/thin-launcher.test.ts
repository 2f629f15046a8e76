import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launcherFacts, thinLauncher } from '../../src/exe/thin-launcher.js';
import { mkroot } from '../../src/elf/mkroot.js';
import { VERSION } from '../../src/version.js';
import { ensureSea } from '../vm/sea.js';
import { rdrescue } from '../helpers/cli.js';
import { distributionImage, dracutImage } from '../helpers/real-images.js';

// The thin launcher in a real chroot standing for the initramfs (busybox-static
// and bash, no libraries of rdrescue's), with the target root mounted where
// each generator mounts it, holding the executable and its libraries the way
// a Debian root has them.
const SEA = ensureSea();
const work = mkdtempSync(join(tmpdir(), 'rdrescue-thin-'));
const initrd = join(work, 'initrd');
const target = join(work, 'target');
const mounts: string[] = [];

function mount(args: string[], at: string): void {
  const r = spawnSync('mount', [...args, at], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')} ${at}: ${r.stderr}`);
  mounts.push(at);
}

/** The target bound at PATH in the initramfs for one subtest (where a generator, or the user, mounts the root). */
function bindFor(t: Test, from: string, path: string): void {
  const at = join(initrd, path);
  mount(['--bind', from], at);
  t.teardown(() => {
    spawnSync('umount', [at]);
    mounts.splice(mounts.indexOf(at), 1);
  });
}

function umountAll(): void {
  while (mounts.length) spawnSync('umount', ['-l', mounts.pop()!]);
}

t.teardown(() => {
  umountAll();
  rmSync(work, { recursive: true, force: true });
});

// The target: rdrescue installed as the package installs it, plus env to show what programs it runs inherit.
mkroot(target, [`${SEA}:/usr/bin/rdrescue`, '/usr/bin/env']);
mkdirSync(join(target, 'etc'));
writeFileSync(join(target, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
writeFileSync(join(target, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n');
for (const d of ['proc', 'sys', 'dev', 'run', 'tmp']) mkdirSync(join(target, d));

// The "initramfs": bash with its own libraries, busybox for everything else, and the launcher.
mkroot(initrd, ['/bin/bash']);
copyFileSync('/bin/busybox', join(initrd, 'usr/bin/busybox'));
chmodSync(join(initrd, 'usr/bin/busybox'), 0o755);
for (const a of ['sh', 'readlink', 'chroot', 'mount', 'umount']) symlinkSync('busybox', join(initrd, 'usr/bin', a));
for (const d of ['proc', 'sys', 'dev', 'run', 'sysroot', 'root', 'new_root', 'mnt/disk', 'etc']) mkdirSync(join(initrd, d), { recursive: true });
writeFileSync(join(initrd, 'usr/bin/rdrescue'), thinLauncher(launcherFacts(SEA)), { mode: 0o755 });
const cmdline = join(work, 'cmdline');
writeFileSync(cmdline, 'BOOT_IMAGE=/vmlinuz root=LABEL=root rootfstype=ext4 ro rd.break\n');
mount(['-t', 'proc', 'proc'], join(initrd, 'proc'));
mount(['--bind', cmdline], join(initrd, 'proc/cmdline'));
mount(['--bind', '/dev'], join(initrd, 'dev'));

const SHELLS = [
  ['busybox ash', ['/usr/bin/busybox', 'sh']],
  ['bash', ['/usr/bin/bash']],
] as const;

function launch(shell: readonly string[], args: string[], env: Record<string, string> = {}) {
  return spawnSync('chroot', [initrd, '/usr/bin/busybox', 'env', '-i', 'PATH=/usr/bin:/usr/sbin', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...shell, '/usr/bin/rdrescue', ...args], { encoding: 'utf8' });
}

t.test('the launcher is a few KiB of POSIX sh', async (t) => {
  const text = thinLauncher(launcherFacts(SEA));
  t.ok(text.length < 8192, `${text.length} bytes`);
  for (const sh of ['dash', 'bash']) t.equal(spawnSync(sh, ['-n'], { input: text }).status, 0, `${sh} -n accepts it`);
  t.match(text.toString(), /^interp=\/lib64\/ld-linux-x86-64\.so\.2$/m, 'the loader is the PT_INTERP of the executable');
  // readelf is the oracle for DT_VERNEED.
  const readelf = spawnSync('readelf', ['-V', SEA], { encoding: 'utf8' }).stdout;
  const newest = [...readelf.matchAll(/Name: GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).at(-1)!;
  t.match(text.toString(), new RegExp(`^need_major=${newest[0]}\nneed_minor=${newest[1]}$`, 'm'), `the glibc it needs (${newest.join('.')}) comes from its version requirements`);
});

t.test('no root mounted: one line with the mount command for root=, exit 4', async (t) => {
  for (const [name, shell] of SHELLS) {
    const r = launch(shell, ['--version']);
    t.equal(r.status, 4, `${name}: exit 4`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
    t.equal(r.stderr, 'rdrescue: the real root is not mounted on /sysroot, /root or /new_root: mount it: mount -t ext4 -o ro /dev/disk/by-label/root /sysroot, then run rdrescue again (RDRESCUE_ROOT=DIR if it is elsewhere)\n', `${name}: one line naming the command`);
  }
});

t.test('dracut root at /sysroot: the target\'s rdrescue runs with the target\'s loader and libraries', async (t) => {
  bindFor(t, target, 'sysroot');
  for (const [name, shell] of SHELLS) {
    const r = launch(shell, ['--version']);
    t.equal(r.stdout.trim(), VERSION, `${name}: rdrescue --version (${r.stderr.trim()})`);
    const env = launch(shell, ['env', '--json']);
    t.equal(JSON.parse(env.stdout).target?.root, "/sysroot", `${name}: rdrescue knows the root it came from (${env.stdout} ${env.stderr})`);
  }
  // rdrescue chroot runs the target's env: what rdrescue's children inherit.
  const r = launch(['/usr/bin/busybox', 'sh'], ['chroot', '--via', 'chroot', '--', '/usr/bin/env'], { LANG: 'C' });
  t.equal(r.status, 0, `rdrescue chroot -- env runs (${r.stderr.trim()})`);
  t.match(r.stdout, /^LANG=C$/m, 'the child sees the environment');
  t.notMatch(r.stdout, /LD_LIBRARY_PATH|RDRESCUE_EXE|RDRESCUE_ROOT|LD_PRELOAD/, 'and nothing of the launcher: no library path, no paths that mean something else in there');
});

t.test('initramfs-tools root at /root', async (t) => {
  bindFor(t, target, 'root');
  const r = launch(SHELLS[0][1], ['env', '--json']);
  t.equal(JSON.parse(r.stdout).target?.root, '/root', r.stderr);
});

t.test('root mounted somewhere unusual: RDRESCUE_ROOT names it', async (t) => {
  bindFor(t, target, 'mnt/disk');
  for (const [name, shell] of SHELLS) {
    const r = launch(shell, ['env', '--json'], { RDRESCUE_ROOT: '/mnt/disk' });
    t.equal(JSON.parse(r.stdout || '{}').target?.root, '/mnt/disk', `${name}: ${r.stderr.trim()}`);
    const missing = launch(shell, ['--version'], { RDRESCUE_ROOT: '/mnt/nowhere' });
    t.equal(missing.status, 4, `${name}: a missing RDRESCUE_ROOT exits 4`);
    t.match(missing.stderr, /^rdrescue: RDRESCUE_ROOT=\/mnt\/nowhere is not a directory: [^\n]*\n$/, `${name}: in one line`);
  }
  const self = launch(SHELLS[0][1], ['--version'], { RDRESCUE_ROOT: '/' });
  t.equal(self.status, 4, 'RDRESCUE_ROOT=/ (the initramfs itself) is refused, not a loop into the launcher');
  t.match(self.stderr, /^rdrescue: RDRESCUE_ROOT=\/ is the initramfs itself[^\n]*\n$/);
});

t.test('a root without rdrescue: one line pointing to the package or a full image, exit 1', async (t) => {
  const bare = join(work, 'bare');
  mkdirSync(join(bare, 'etc'), { recursive: true });
  bindFor(t, bare, 'sysroot');
  for (const [name, shell] of SHELLS) {
    const r = launch(shell, ['--version']);
    t.equal(r.status, 1, `${name}: exit 1`);
    t.match(r.stderr, /^rdrescue: no rdrescue executable on the root \/sysroot \(looked for \/usr\/bin\/rdrescue \/usr\/local\/bin\/rdrescue \/usr\/lib\/rdrescue\/rdrescue there\): install the rdrescue package on that system, or boot an image made by `rdrescue inject` without --thin[^\n]*\n$/, `${name}: one line`);
  }
});

t.test('a root whose glibc is older than the executable needs: one line, exit 1, nothing started', async (t) => {
  // An old distribution's layout: libc-2.17.so next to the loader (glibc before 2.34 names its file so).
  const old = join(work, 'old');
  mkdirSync(join(old, 'usr/lib64'), { recursive: true });
  mkdirSync(join(old, 'usr/bin'), { recursive: true });
  symlinkSync('usr/lib64', join(old, 'lib64'));
  copyFileSync('/bin/busybox', join(old, 'usr/lib64/ld-2.17.so'));
  symlinkSync('ld-2.17.so', join(old, 'usr/lib64/ld-linux-x86-64.so.2'));
  writeFileSync(join(old, 'usr/lib64/libc-2.17.so'), '');
  writeFileSync(join(old, 'usr/bin/rdrescue'), '');
  bindFor(t, old, 'sysroot');
  const r = launch(SHELLS[0][1], ['--version']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^rdrescue: the root \/sysroot has glibc 2\.17, older than the 2\.\d+ that \/sysroot\/usr\/bin\/rdrescue needs: boot an image made by `rdrescue inject` without --thin[^\n]*\n$/);
});

t.test('inject --thin on real images: only the launcher and boot scripts, at most 64 KiB more, original bytes kept', async (t) => {
  for (const [name, img] of [['dracut', dracutImage('gzip')], ['initramfs-tools', distributionImage()]] as const) {
    const out = join(work, `${name}-thin.img`);
    const r = rdrescue(['inject', '--thin', img, '-o', out, '--exe', SEA, '--json']);
    t.equal(r.status, 0, `${name}: inject --thin (${r.stderr.trim()})`);
    const rep = JSON.parse(r.stdout) as { grewBy: number; files: string[]; originalBytes: number };
    t.ok(rep.grewBy <= 64 * 1024, `${name}: grew by ${rep.grewBy} bytes`);
    t.ok(readFileSync(out).subarray(0, rep.originalBytes).equals(readFileSync(img)), `${name}: the original bytes are unchanged`);
    const ls = rdrescue(['ls', out]).stdout.split('\n');
    t.ok(ls.some((l) => /(^|\s)usr\/bin\/rdrescue$/.test(l)), `${name}: rdrescue ls shows the launcher`);
    t.notOk(ls.some((l) => /usr\/lib\/rdrescue\/(lib\/|rdrescue$)/.test(l)), `${name}: and no executable or library of rdrescue's`);
    const launcher = rdrescue(['cat', out, 'usr/bin/rdrescue']).stdout;
    t.match(launcher, /^#!\/bin\/sh\n# rdrescue thin launcher/, `${name}: the launcher is the thin one`);
  }
});
