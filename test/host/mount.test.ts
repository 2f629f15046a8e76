// rdrescue mount / a fix / rdrescue umount on whole-disk images built with
// the real tools, checked from outside afterwards: the change is there,
// nothing is left mounted or attached, and a mount without a fix changes
// no byte of the disk.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { buildDisk, loopsOf, mountsUnder, sh, sha256, withMounted, withRange, writeRoot, type Disk } from './disk.js';

type T = Pick<typeof t, 'teardown' | 'equal' | 'same' | 'notOk' | 'match' | 'ok'>;
const XFS_UUID = '0d6c1a9e-7d2b-4b7e-9a51-3f1c2e4d5a60';

function scratch(t: T): string {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-at-'));
  t.teardown(() => {
    spawnSync(process.execPath, [BUNDLE, 'umount', join(dir, 'root')], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return join(dir, 'root');
}

function disk(t: T, ...args: Parameters<typeof buildDisk>): Disk {
  const d = buildDisk(...args);
  t.teardown(() => d.cleanup());
  return d;
}

/** Nothing of the image is attached and nothing is mounted at or below `at`. */
function released(t: T, d: Disk, at: string): void {
  t.same(loopsOf(d.image), [], 'no loop device left on the image');
  t.same(mountsUnder(at), [], 'nothing left mounted');
  t.notOk(existsSync(at), 'the mount directory rdrescue made is gone');
}

function rootHash(d: Disk, part: number, opts: string[] = ['ro']): string {
  return withMounted(d.image, d.parts[part], (m) => readFileSync(join(m, 'etc/shadow'), 'utf8').split('\n').find((l) => l.startsWith('root:'))!.split(':')[1], opts);
}

function passwd(t: T, at: string, password = 'rescued-1'): void {
  const r = rdrescue(['passwd', 'root', '--root', at, '--password-stdin'], { input: `${password}\n` });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /made .* writable for this change/, 'says it made the disk writable');
}

/** The RHEL layout: GPT, /boot ext4, / XFS. */
function rhelDisk(t: T, extraFstab: string[] = []): Disk {
  return disk(t, 'gpt', [
    { sizeMiB: 32, fs: 'ext4', label: 'boot', fill: (m) => writeFileSync(join(m, 'vmlinuz-5.14'), 'kernel') },
    {
      sizeMiB: 300,
      fs: 'xfs',
      uuid: XFS_UUID,
      fill: (m) => writeRoot(m, { name: 'Red Hat Enterprise Linux', fstab: [`UUID=${XFS_UUID} / xfs defaults 0 0`, 'LABEL=boot /boot ext4 defaults 1 2', ...extraFstab] }),
    },
  ]);
}

t.test('GPT with /boot ext4 and / XFS while its twin (same XFS UUID) is mounted on the host', async (t) => {
  const d = rhelDisk(t);
  const twin = disk(t, 'gpt', [{ sizeMiB: 300, fs: 'xfs', uuid: XFS_UUID }]);
  const twinLoop = sh('losetup', ['-f', '--show', '-o', String(twin.parts[0].offset), '--sizelimit', String(twin.parts[0].size), twin.image]);
  const twinMnt = mkdtempSync(join(tmpdir(), 'rdrescue-twin-'));
  sh('mount', ['-o', 'ro', twinLoop, twinMnt]);
  t.teardown(() => {
    sh('umount', [twinMnt]);
    sh('losetup', ['-d', twinLoop]);
    rmSync(twinMnt, { recursive: true });
  });
  const at = scratch(t);
  const before = sha256(d.image);
  const m = rdrescue(['mount', d.image, '--at', at, '--json']);
  t.equal(m.status, 0, m.stderr);
  const rec = JSON.parse(m.stdout);
  t.equal(rec.osName, 'Red Hat Enterprise Linux 9');
  const mounts = rec.steps.filter((s: { kind: string }) => s.kind === 'mount');
  t.same(mounts.map((s: { target: string }) => s.target), [at, join(at, 'boot')]);
  t.ok(mounts[0].options.includes('nouuid'), 'the XFS twin of a host filesystem gets nouuid');
  t.ok(mounts.every((s: { options: string[] }) => s.options.includes('ro')));
  t.ok(existsSync(join(at, 'boot/vmlinuz-5.14')), "the target's /boot is mounted where its fstab says");
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  t.equal(sha256(d.image), before, 'mount and umount with no fix in between change no byte');

  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  passwd(t, at);
  const u = rdrescue(['umount', at]);
  t.equal(u.status, 0, u.stderr);
  released(t, d, at);
  t.match(rootHash(d, 1, ['ro', 'nouuid']), /^\$6\$/, 'the new hash is on the disk, seen from outside');
});

t.test('btrfs with @ and @home: the subvolumes from its fstab', async (t) => {
  const uuid = '5a4b3c2d-1e0f-4a5b-8c7d-6e5f4a3b2c1d';
  const d = disk(t, 'gpt', [
    {
      sizeMiB: 120,
      fs: 'btrfs',
      uuid,
      subvolumes: ['@', '@home'],
      fill: (m) => {
        writeRoot(join(m, '@'), { name: 'openSUSE Tumbleweed', fstab: [`UUID=${uuid} / btrfs subvol=/@ 0 0`, `UUID=${uuid} /home btrfs subvol=/@home 0 0`] });
        writeFileSync(join(m, '@home/marker'), 'home');
      },
    },
  ]);
  const at = scratch(t);
  const before = sha256(d.image);
  const m = rdrescue(['mount', d.image, '--at', at, '--json']);
  t.equal(m.status, 0, m.stderr);
  const rec = JSON.parse(m.stdout);
  const mounts = rec.steps.filter((s: { kind: string }) => s.kind === 'mount');
  t.same(mounts.map((s: { options: string[] }) => s.options.find((o) => o.startsWith('subvol='))), ['subvol=@', 'subvol=/@home']);
  t.equal(new Set(mounts.map((s: { device: string }) => s.device)).size, 1, 'both subvolumes through one loop device');
  t.equal(readFileSync(join(at, 'home/marker'), 'utf8'), 'home');
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  t.equal(sha256(d.image), before, 'no byte changed');
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  passwd(t, at);
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  t.match(rootHash(d, 0, ['ro', 'subvol=@']), /^\$6\$/);
});

t.test('MBR with an ext4 root named by LABEL=, swap skipped with a note', async (t) => {
  const d = disk(t, 'mbr', [
    { sizeMiB: 8, fs: 'swap' },
    { sizeMiB: 24, fs: 'ext4', label: 'debroot', fill: (m) => writeRoot(m, { name: 'Debian GNU/Linux', fstab: ['LABEL=debroot / ext4 errors=remount-ro 0 1', '/dev/sda1 none swap sw 0 0'] }) },
  ]);
  const at = scratch(t);
  const before = sha256(d.image);
  const m = rdrescue(['mount', d.image, '--at', at]);
  t.equal(m.status, 0, m.stderr);
  t.match(m.stdout, /mounted Debian GNU\/Linux 9 from/);
  t.match(m.stdout, /note: fstab line 2: \/dev\/sda1: swap is not needed for a repair; not mounted/);
  t.equal(rdrescue(['umount', at]).status, 0);
  t.equal(sha256(d.image), before);
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  passwd(t, at);
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  t.match(rootHash(d, 1), /^\$6\$/);
});

t.test('a data disk with no Linux root: one line, exit 3, nothing held', async (t) => {
  const d = disk(t, 'gpt', [{ sizeMiB: 24, fs: 'ext4', label: 'data', fill: (m) => writeFileSync(join(m, 'file'), 'x') }, { sizeMiB: 8, fs: 'swap' }]);
  const at = scratch(t);
  const r = rdrescue(['mount', d.image, '--at', at]);
  t.equal(r.status, 3);
  t.match(r.stderr, /^rdrescue: no Linux root \(a filesystem or btrfs subvolume with etc\/os-release and etc\/fstab\) on .*disk\.img; found .*partition 1: ext4 LABEL=data; .*partition 2: swap\n$/);
  released(t, d, at);
  t.equal(rdrescue(['mount', '--list']).stdout.includes(d.image), false);
});

t.test('a file that is no disk image at all: one line, exit 3', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-notdisk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'notes.txt');
  writeFileSync(file, 'not a disk\n');
  const r = rdrescue(['mount', file, '--at', join(dir, 'root')]);
  t.equal(r.status, 3);
  t.equal(r.stderr, `rdrescue: no Linux root (a filesystem or btrfs subvolume with etc/os-release and etc/fstab) on ${file}; found ${file}: unknown\n`);
});

t.test('two roots on one disk (a dual boot): listed with exit 2, then one is picked with --volume', async (t) => {
  const d = disk(t, 'gpt', [
    { sizeMiB: 24, fs: 'ext4', label: 'fedora', fill: (m) => writeRoot(m, { name: 'Fedora Linux', fstab: ['LABEL=fedora / ext4 defaults 0 1'] }) },
    { sizeMiB: 24, fs: 'ext4', label: 'ubuntu', fill: (m) => writeRoot(m, { name: 'Ubuntu', fstab: ['LABEL=ubuntu / ext4 defaults 0 1'] }) },
  ]);
  const at = scratch(t);
  const fedoraBefore = rootHash(d, 0);
  const r = rdrescue(['mount', d.image, '--at', at]);
  t.equal(r.status, 2);
  t.match(r.stderr, /^rdrescue: 2 Linux roots found; name one with --volume/);
  t.match(r.stdout, /partition 1 +ext4 +24 MiB  Fedora Linux 9  \(--volume 1\)/);
  t.match(r.stdout, /partition 2 +ext4 +24 MiB  Ubuntu 9  \(--volume 2\)/);
  released(t, d, at);
  const two = rdrescue(['mount', d.image, '--at', at, '--volume', 'LABEL=ubuntu']);
  t.equal(two.status, 0, two.stderr);
  t.match(two.stdout, /mounted Ubuntu 9/);
  passwd(t, at);
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  t.match(rootHash(d, 1), /^\$6\$/);
  t.equal(rootHash(d, 0), fedoraBefore, 'the other root is untouched');
});

t.test('a disk the host already has mounted is refused (exit 4), whichever partition is in use', async (t) => {
  const d = rhelDisk(t);
  const loop = sh('losetup', ['-f', '--show', '-r', '-o', String(d.parts[0].offset), '--sizelimit', String(d.parts[0].size), d.image]);
  const mnt = mkdtempSync(join(tmpdir(), 'rdrescue-busy-'));
  sh('mount', ['-o', 'ro', loop, mnt]);
  t.teardown(() => {
    sh('umount', [mnt]);
    sh('losetup', ['-d', loop]);
    rmSync(mnt, { recursive: true });
  });
  const at = scratch(t);
  const r = rdrescue(['mount', d.image, '--at', at]);
  t.equal(r.status, 4);
  t.equal(r.stderr, `rdrescue: ${d.image}: is attached as ${loop}, mounted on ${mnt}; mounting it a second time could corrupt it. Unmount it first, or use that mount with --root\n`);
  t.same(loopsOf(d.image).map((l) => l.split(':')[0]), [loop], "only the host's own loop stays");
  t.same(mountsUnder(at), []);
});

t.test('a killed mount leaves a record, and umount cleans up after it', async (t) => {
  const d = rhelDisk(t);
  const at = scratch(t);
  const child = spawn(process.execPath, [BUNDLE, 'mount', d.image, '--at', at], { env: { ...process.env, RDRESCUE_TEST: '1', RDRESCUE_TEST_PAUSE_AT: 'mount:root' }, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((res) => child.stderr.on('data', (b: Buffer) => b.toString().includes('paused at mount:root') && res()));
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  t.same(mountsUnder(at), [at], 'the root was mounted when it died');
  const list = rdrescue(['mount', '--list']);
  t.match(list.stdout, new RegExp(`${at}: .* \\(interrupted: rdrescue umount ${at} cleans up\\)`));
  const u = rdrescue(['umount', at]);
  t.equal(u.status, 0, u.stderr);
  released(t, d, at);
});

t.test('a journal that needs replay: mounted without it, said with the repair command, replayed when made writable', async (t) => {
  const d = disk(t, 'gpt', [{ sizeMiB: 24, fs: 'ext4', label: 'root', fill: (m) => writeRoot(m, { name: 'Debian GNU/Linux', fstab: ['LABEL=root / ext4 defaults 0 1'] }) }]);
  withRange(d.image, d.parts[0], (loop) => sh('debugfs', ['-w', '-R', 'feature needs_recovery', loop]));
  const at = scratch(t);
  const before = sha256(d.image);
  const m = rdrescue(['mount', d.image, '--at', at]);
  t.equal(m.status, 0, m.stderr);
  t.match(m.stdout, /note: \/ \(.*partition 1, ext4\) was not cleanly unmounted: mounted without replaying its journal.*fsck\.ext4 -f \$\(losetup -f --show -o 1048576 --sizelimit 25165824 .*disk\.img\)/);
  t.equal(rdrescue(['umount', at]).status, 0);
  t.equal(sha256(d.image), before, 'the journal was not replayed behind the user\'s back');
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  passwd(t, at);
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  const state = withRange(d.image, d.parts[0], (loop) => sh('dumpe2fs', ['-h', loop]));
  t.notMatch(state, /needs_recovery/, 'replayed once made writable');
});

t.test('an XFS whose log needs recovery: norecovery on the read-only loop, no byte changed, the log replayed by the fix', async (t) => {
  const d = disk(t, 'gpt', [{ sizeMiB: 300, fs: 'xfs', fill: (m) => writeRoot(m, { name: 'Rocky Linux', fstab: ['/dev/vda1 / xfs defaults 0 0'] }) }]);
  // a crash: the last write is only in the log when the filesystem goes down
  withMounted(d.image, d.parts[0], (m) => {
    writeFileSync(join(m, 'etc/written-before-crash'), 'x');
    sh('xfs_io', ['-x', '-c', 'shutdown -f', m]);
  });
  const at = scratch(t);
  const before = sha256(d.image);
  const m = rdrescue(['mount', d.image, '--at', at]);
  t.equal(m.status, 0, m.stderr);
  t.match(m.stdout, /\/ +\/dev\/loop\d+ +xfs +ro,norecovery/);
  t.match(m.stdout, /note: \/ \(.*partition 1, xfs\) was not cleanly unmounted.*rdrescue mount --rw \(replays the log\), umount, then xfs_repair /);
  t.notOk(existsSync(join(at, 'etc/written-before-crash')), 'what is only in the log is not visible read-only');
  t.equal(rdrescue(['umount', at]).status, 0);
  t.equal(sha256(d.image), before, 'no byte changed: the log was not replayed behind the user\'s back');
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  passwd(t, at);
  t.ok(existsSync(join(at, 'etc/written-before-crash')), 'made writable: the log was replayed');
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  t.match(rootHash(d, 0, ['ro']), /^\$6\$/, 'a plain read-only mount works again: the log is clean');
});

t.test('a mount namespace holding a copy of the read-only XFS while the fix remounts it: the fix waits for it instead of failing on "duplicate UUID"', async (t) => {
  const d = disk(t, 'gpt', [{ sizeMiB: 300, fs: 'xfs', fill: (m) => writeRoot(m, { name: 'Rocky Linux', fstab: ['/dev/vda1 / xfs defaults 0 0'] }) }]);
  const at = scratch(t);
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  // A process in its own mount namespace, made while the read-only mount exists: a service with PrivateTmp does this.
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '2'], { stdio: 'ignore' });
  const ended = new Promise((r) => holder.on('exit', r));
  await new Promise((r) => setTimeout(r, 300));
  passwd(t, at);
  await ended;
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
  t.match(rootHash(d, 0, ['ro']), /^\$6\$/, 'the new password is on the disk');
});

t.test('a mount namespace that keeps the read-only XFS past the wait: the fix fails naming the process, changes nothing, and umount still cleans up', async (t) => {
  const d = disk(t, 'gpt', [{ sizeMiB: 300, fs: 'xfs', fill: (m) => writeRoot(m, { name: 'Rocky Linux', fstab: ['/dev/vda1 / xfs defaults 0 0'] }) }]);
  const at = scratch(t);
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  const rootLine = () => readFileSync(join(at, 'etc/shadow'), 'utf8').split('\n').find((l) => l.startsWith('root:'))!.split(':')[1];
  const before = rootLine();
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '120'], { stdio: 'ignore' });
  const ended = new Promise((r) => holder.on('exit', r));
  t.teardown(() => holder.kill());
  await new Promise((r) => setTimeout(r, 300));
  const r = rdrescue(['passwd', 'root', '--root', at, '--password-stdin'], { input: 'rescued-1\n' });
  t.not(r.status, 0, 'the fix fails');
  t.match(r.stderr, new RegExp(`the read-only XFS is still mounted in the mount namespace of PID ${holder.pid} \\(sleep\\).*End that process, then run the fix again`));
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  holder.kill();
  await ended;
  t.equal(rdrescue(['umount', at]).status, 0);
  // The namespace's copy of the mount goes with its last process, and the read-only loop under it then.
  for (let i = 0; i < 40 && loopsOf(d.image).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
  released(t, d, at);
  t.equal(rootHash(d, 0), before, 'root\'s password hash is the one it was');
});

t.test('an fstab entry whose device is not on the disk: a warning naming the fix, the rest is mounted', async (t) => {
  const d = rhelDisk(t, ['UUID=dead0000-0000-4000-8000-000000000000 /data xfs defaults 0 0', 'UUID=dead0000-0000-4000-8000-000000000001 /opt xfs nofail 0 0']);
  const at = scratch(t);
  const m = rdrescue(['mount', d.image, '--at', at]);
  t.equal(m.status, 0, m.stderr);
  t.match(m.stdout, /warning: fstab line 3: \/data: UUID=dead0000-0000-4000-8000-000000000000 is not on this disk; the target's boot waits for it and stops \(see rdrescue fstab --check, then --nofail or --disable\)/);
  t.match(m.stdout, /note: fstab line 4: \/opt: UUID=dead0000-0000-4000-8000-000000000001 is not on this disk \(nofail: the target boots without it\); not mounted/);
  t.ok(existsSync(join(at, 'boot/vmlinuz-5.14')));
  t.equal(rdrescue(['umount', at]).status, 0);
  released(t, d, at);
});
