// chroot and runbook steps mount the target's own filesystems from its
// fstab: a root and a separate /boot on two loop devices (/boot named by
// UUID), and a btrfs @home subvolume. The writes must land on the real
// filesystems (debugfs and a separate mount read them back), nothing may
// stay mounted, and the root's own /boot and /home directories stay empty.
import t from 'tap';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkroot, parseRunbook, runRunbook } from '../../src/index.js';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { debugfsCat, mountsBelow } from '../helpers/ext4.js';
import { RUNBOOK_KEY } from '../runbook/helpers.js';
import { rhelRoot } from './helpers.js';

const BOOT_UUID = '5a1e0b00-7e57-4b00-8000-000000000b00';
const HOME_UUID = '5a1e0b00-7e57-4b00-8000-00000000f00d';

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A filesystem image on its own loop device, not mounted. */
function volume(t: { teardown(fn: () => void): void }, make: (image: string) => void, size: string): { image: string; loop: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-vol-'));
  const image = join(dir, 'vol.img');
  sh('truncate', ['-s', size, image]);
  make(image);
  const loop = sh('losetup', ['-f', '--show', image]);
  t.teardown(() => {
    spawnSync('losetup', ['-d', loop]);
    rmSync(dir, { recursive: true, force: true });
  });
  return { image, loop, dir };
}

function targetRoot(t: Parameters<typeof rhelRoot>[0], fstab: string, rw = true) {
  return rhelRoot(t, {
    rw,
    sizeMiB: 48,
    dirs: ['proc', 'sys', 'dev', 'run', 'tmp', 'var/log', 'root', 'home', 'boot'],
    prepare: (d) => {
      mkroot(d, ['sh', 'cat', 'sleep']);
      writeFileSync(join(d, 'etc/fstab'), fstab);
    },
  });
}

t.test('chroot: a separate /boot named by UUID is mounted rw inside; the write lands on it; nothing is left mounted', async (t) => {
  const boot = volume(t, (img) => sh('mkfs.ext4', ['-q', '-F', '-U', BOOT_UUID, img]), '16M');
  const r = targetRoot(t, `UUID=0a1b2c3d-0000-4000-8000-00000000dead / ext4 defaults 0 1\nUUID=${BOOT_UUID} /boot ext4 defaults 1 2\n`);
  const res = rdrescue(['chroot', '--root', r.mnt, '--', 'sh', '-c', 'echo x > /boot/f']);
  t.equal(res.status, 0, res.stderr);
  t.match(res.stderr, new RegExp(`mounting the target's /boot: UUID=${BOOT_UUID} \\(${boot.loop}, ext4, rw\\), fstab line 2`), 'says what it mounts');
  t.same(mountsBelow(r.mnt), [r.mnt], 'nothing left mounted');
  t.same(readdirSync(join(r.mnt, 'boot')), [], "the root's own /boot stays empty");
  t.equal(debugfsCat(boot.image, '/f').toString(), 'x\n', 'debugfs reads the file on the boot filesystem');

  const dry = rdrescue(['chroot', '--root', r.mnt, '--dry-run', '--', 'true']);
  t.match(dry.stdout, /^would mount \/boot: UUID=.* fstab line 2 on \/boot$/m);
  const off = rdrescue(['chroot', '--root', r.mnt, '--no-fstab-mounts', '--dry-run', '--', 'true']);
  t.notMatch(off.stdout, /\/boot/, '--no-fstab-mounts: only the API filesystems');
});

t.test('chroot on a read-only target (as rd.break leaves it) mounts /boot read-only too, and unmounts after a kill', async (t) => {
  volume(t, (img) => sh('mkfs.ext4', ['-q', '-F', '-U', BOOT_UUID, img]), '16M');
  const r = targetRoot(t, `UUID=${BOOT_UUID} /boot ext4 defaults 1 2\n`, false);
  const ro = rdrescue(['chroot', '--root', r.mnt, '--', 'sh', '-c', 'while read -r a b c d mp o rest; do [ "$mp" = /boot ] && echo "boot $o"; done < /proc/self/mountinfo; true']);
  t.equal(ro.status, 0, ro.stderr);
  t.match(ro.stdout, /^boot ro,/m, '/boot read-only like the root');
  const child = spawn(process.execPath, [BUNDLE, 'chroot', '--root', r.mnt, '--', 'sleep', '30'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !mountsBelow(r.mnt).includes(join(r.mnt, 'boot')); i++) await new Promise((res) => setTimeout(res, 50));
  t.ok(mountsBelow(r.mnt).includes(join(r.mnt, 'boot')), '/boot mounted while the command runs');
  child.kill('SIGTERM');
  await new Promise((res) => child.once('exit', res));
  t.same(mountsBelow(r.mnt), [r.mnt], 'SIGTERM: everything unmounted');
});

t.test('a btrfs @home subvolume: chroot writes onto it, and an ssh-key step puts the key on it', async (t) => {
  const home = volume(
    t,
    (img) => {
      sh('mkfs.btrfs', ['-q', '-f', '-U', HOME_UUID, img]);
      const m = mkdtempSync(join(tmpdir(), 'rdrescue-btrfs-'));
      sh('mount', [img, m]);
      sh('btrfs', ['subvolume', 'create', join(m, '@home')]);
      mkdirSync(join(m, '@home/alice'));
      sh('chown', ['1000:1000', join(m, '@home/alice')]);
      sh('umount', [m]);
      rmSync(m, { recursive: true });
    },
    '128M',
  );
  const r = targetRoot(t, `UUID=${HOME_UUID} /home btrfs subvol=@home,compress=zstd 0 0\n`);
  const res = rdrescue(['chroot', '--root', r.mnt, '--', 'sh', '-c', 'echo y > /home/f']);
  t.equal(res.status, 0, res.stderr);
  t.match(res.stderr, /mounting the target's \/home: UUID=.* \(\/dev\/loop\d+, btrfs, rw,subvol=@home\)/);
  const book = parseRunbook(`version: 1\nsteps:\n  - ssh-key: { user: alice, key: "${RUNBOOK_KEY}" }\n`, 'home.yaml');
  const run = await runRunbook(book, { root: r.mnt });
  t.ok(run.ok, JSON.stringify(run.steps));
  t.match(run.steps[0].lines.join('\n'), /mounted the target's \/home: UUID=/);
  t.same(mountsBelow(r.mnt), [r.mnt], 'nothing left mounted');
  t.same(readdirSync(join(r.mnt, 'home')), [], "the root's own /home stays empty");
  const m = mkdtempSync(join(tmpdir(), 'rdrescue-btrfs-'));
  sh('mount', ['-o', 'ro,subvol=@home', home.loop, m]);
  try {
    t.equal(readFileSync(join(m, 'f'), 'utf8'), 'y\n', 'the chroot write is on @home');
    t.equal(readFileSync(join(m, 'alice/.ssh/authorized_keys'), 'utf8'), `${RUNBOOK_KEY}\n`, 'the key is on @home');
  } finally {
    sh('umount', [m]);
    rmSync(m, { recursive: true });
  }
});

t.test('an ssh-key step under a /home the target mounts from a device that is not here is refused, saying why', async (t) => {
  const r = targetRoot(t, `UUID=${HOME_UUID.replace('f00d', 'dead')} /home xfs defaults 0 0\n`);
  mkdirSync(join(r.mnt, 'home/alice'));
  const book = parseRunbook(`version: 1\nsteps:\n  - ssh-key: { user: alice, key: "${RUNBOOK_KEY}" }\n`, 'home.yaml');
  await t.rejects(runRunbook(book, { root: r.mnt }), /home\.yaml:3: step 1 \(ssh-key alice\): writes under a filesystem of the target's own that cannot be mounted here \(fstab line 1: \/home: .* is not on this disk.*hidden by the real one at boot/);
  t.same(readdirSync(join(r.mnt, 'home/alice')), [], 'nothing written');
});
