// Where is the target root? Fake initramfs trees for each generator (with
// their marker files, the kernel command line and the mount table given
// explicitly), plus a real ext4 root for what `rdrescue env` reports.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectEnvironment, resolveTarget, type MountInfo } from '../../src/index.js';
import { rdrescue } from '../helpers/cli.js';
import { rhelRoot } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-env-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

function mount(mountPoint: string): MountInfo {
  return { id: 1, parent: 0, majorMinor: '253:0', fsRoot: '/', mountPoint, options: ['ro'], fsType: 'xfs', source: '/dev/mapper/rl-root', superOptions: ['ro'], readOnly: true };
}

/** A fake rescue environment: `files` relative to its root, a /proc with `cmdline`. */
function fakeHost(name: string, files: Record<string, string>, cmdline = 'BOOT_IMAGE=/vmlinuz ro quiet'): { host: string; proc: string } {
  const host = join(work, name);
  const proc = join(work, `${name}-proc`);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(host, p, '..'), { recursive: true });
    writeFileSync(join(host, p), content);
  }
  mkdirSync(proc, { recursive: true });
  writeFileSync(join(proc, 'cmdline'), `${cmdline}\n`);
  return { host, proc };
}

const LINUX_ROOT = (dir: string) => ({ [`${dir}/etc/passwd`]: 'root:x:0:0::/root:/bin/bash\n', [`${dir}/etc/shadow`]: 'root:*:1:0:99999:7:::\n' });
const INITRAMFS_OWN = { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'etc/shadow': 'root::1::::::\n' };

t.test('dracut rd.break: /sysroot, from /etc/initrd-release', async (t) => {
  const { host, proc } = fakeHost('dracut', { 'etc/initrd-release': 'NAME=dracut\nDRACUT_VERSION="059-16.el9"\n', ...INITRAMFS_OWN, ...LINUX_ROOT('sysroot') });
  const opts = { hostRoot: host, procDir: proc, environ: {}, mounts: [mount(join(host, 'sysroot'))] };
  const env = detectEnvironment(opts);
  t.equal(env.kind, 'dracut');
  t.equal(env.inInitramfs, true);
  t.match(env.description, /dracut 059-16.el9/);
  t.equal(resolveTarget(opts).root, join(host, 'sysroot'));
});

t.test('dracut rd.break=pre-mount: says the root is not mounted and how to mount it from root=', async (t) => {
  const { host, proc } = fakeHost('premount', { 'etc/initrd-release': 'DRACUT_VERSION=059\n', ...INITRAMFS_OWN, 'sysroot/.keep': '' }, 'BOOT_IMAGE=/vmlinuz root=UUID=0a1b-22 rootfstype=xfs rootflags=nouuid rd.break=pre-mount');
  const opts = { hostRoot: host, procDir: proc, environ: {}, mounts: [] };
  const env = detectEnvironment(opts);
  t.equal(env.targetMounted, false);
  t.match(env.description, /pre-mount/);
  t.equal(env.hint, `mount it from root=UUID=0a1b-22: mount -t xfs -o ro,nouuid /dev/disk/by-uuid/0a1b-22 ${join(host, 'sysroot')}`);
  t.throws(() => resolveTarget(opts), { message: /not mounted yet: mount it from root=UUID=0a1b-22/, exitCode: 4 });
});

t.test("the initramfs's own /etc/shadow is never the target", async (t) => {
  const { host, proc } = fakeHost('own', { 'etc/initrd-release': 'DRACUT_VERSION=059\n', ...INITRAMFS_OWN, 'sysroot/.keep': '' });
  const opts = { hostRoot: host, procDir: proc, environ: {}, mounts: [] };
  t.throws(() => resolveTarget(opts), /not mounted yet/, 'no fallback to / when /sysroot is empty');
  t.throws(() => resolveTarget({ ...opts, root: host }), { message: /is the initramfs itself, not the system to rescue/, exitCode: 4 }, 'nor with --root pointing at it');
});

t.test('dracut with NEWROOT from the environment', async (t) => {
  const { host, proc } = fakeHost('newroot', { 'usr/lib/dracut/.keep': '', ...LINUX_ROOT('mnt/new') });
  const env = detectEnvironment({ hostRoot: host, procDir: proc, environ: { NEWROOT: '/mnt/new' }, mounts: [mount(join(host, 'mnt/new'))] });
  t.equal(env.kind, 'dracut');
  t.equal(env.targetRoot, join(host, 'mnt/new'));
  t.equal(env.targetMounted, true);
});

t.test('initramfs-tools break=bottom: /root, from /scripts/functions and /conf/arch.conf', async (t) => {
  const { host, proc } = fakeHost('itools', { 'scripts/functions': '', 'conf/arch.conf': 'DPKG_ARCH=amd64\n', ...LINUX_ROOT('root') });
  const opts = { hostRoot: host, procDir: proc, environ: {}, mounts: [mount(join(host, 'root'))] };
  t.equal(detectEnvironment(opts).kind, 'initramfs-tools');
  t.equal(resolveTarget(opts).root, join(host, 'root'));
  const pre = detectEnvironment({ ...opts, mounts: [] });
  t.equal(pre.targetMounted, false, 'bare break (premount): not mounted yet');
});

t.test('mkinitcpio break=postmount: /new_root, from /init_functions', async (t) => {
  const { host, proc } = fakeHost('mkinitcpio', { init_functions: '', ...LINUX_ROOT('new_root') });
  const opts = { hostRoot: host, procDir: proc, environ: {}, mounts: [mount(join(host, 'new_root'))] };
  t.equal(detectEnvironment(opts).kind, 'mkinitcpio');
  t.equal(resolveTarget(opts).root, join(host, 'new_root'));
});

t.test('init=/bin/bash: the root is /', async (t) => {
  const { host, proc } = fakeHost('initbash', LINUX_ROOT('.'), 'root=/dev/sda2 ro init=/bin/bash');
  const opts = { hostRoot: host, procDir: proc, environ: {}, mounts: [mount(host)] };
  const env = detectEnvironment(opts);
  t.equal(env.kind, 'init-shell');
  t.equal(env.hint, 'mount -t proc proc /proc first', 'proc not mounted in the fake proc dir');
  t.equal(resolveTarget(opts).root, host);
});

t.test('a rescue host needs --root, and refuses a directory that is not a Linux root', async (t) => {
  const { host, proc } = fakeHost('rescuehost', { 'mnt/broken/etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'mnt/win/boot.ini': '' });
  const opts = { hostRoot: host, procDir: proc, environ: {}, mounts: [] };
  t.equal(detectEnvironment(opts).kind, 'host');
  t.throws(() => resolveTarget(opts), /--root DIR/);
  t.equal(resolveTarget({ ...opts, root: join(host, 'mnt/broken') }).source, 'option');
  t.throws(() => resolveTarget({ ...opts, root: join(host, 'mnt/win') }), { message: /is not a Linux root: it has no etc\/passwd/, exitCode: 4 });
  t.throws(() => resolveTarget({ ...opts, root: join(host, 'mnt/none') }), /does not exist/);
});

t.test('rdrescue env reports the mount, OS, SELinux mode and init system of a real ext4 root', async (t) => {
  const r = rhelRoot(t, {
    prepare: (d) => {
      mkdirSync(join(d, 'sbin'));
      symlinkSync('../usr/lib/systemd/systemd', join(d, 'sbin/init'));
    },
  });
  const res = rdrescue(['env', '--root', r.mnt, '--json']);
  t.equal(res.status, 0, res.stderr);
  const j = JSON.parse(res.stdout);
  t.same(j.target.mount, { mountPoint: r.mnt, device: r.loop, fsType: 'ext4', readOnly: true });
  t.equal(j.target.os.prettyName, 'Rocky Linux 9.4 (Blue Onyx)');
  t.same(j.target.selinux, { mode: 'enforcing', type: 'targeted', relabelNeeded: true });
  t.equal(j.target.init, 'systemd');
  const text = rdrescue(['env', '--root', r.mnt]);
  t.match(text.stdout, new RegExp(`mounted from ${r.loop} \\(ext4\\) on ${r.mnt}, read-only`));
});
