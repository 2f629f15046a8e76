// A root made by `rdrescue mount` seen by the other rescue commands: env
// reports the rescue host and what is mounted, chroot finds the target's
// own /boot in place, and without SOURCE the one unused disk is taken.
import t from 'tap';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { buildDisk, loopsOf, mountsUnder, sh, writeRoot } from './disk.js';

function rootWithShell(m: string, name: string, fstab: string[]): void {
  writeRoot(m, { name, fstab, dirs: ['bin'] });
  copyFileSync('/usr/bin/busybox', join(m, 'bin/busybox'));
  sh('chmod', ['755', join(m, 'bin/busybox')]);
}

t.test('env says "rescue host" with the disk and its mounts; chroot sees the /boot mounted from the target fstab', async (t) => {
  const d = buildDisk('mbr', [
    { sizeMiB: 16, fs: 'ext4', label: 'boot', fill: (m) => writeFileSync(join(m, 'initramfs-6.1.img'), 'initramfs') },
    { sizeMiB: 24, fs: 'ext4', label: 'root', fill: (m) => rootWithShell(m, 'AlmaLinux', ['LABEL=root / ext4 defaults 0 1', 'LABEL=boot /boot ext4 defaults 0 2']) },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-at-'));
  const at = join(dir, 'root');
  t.teardown(() => {
    rdrescue(['umount', at]);
    d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  t.equal(rdrescue(['mount', d.image, '--at', at]).status, 0);
  const env = rdrescue(['env', '--root', at]);
  t.equal(env.status, 0, env.stderr);
  t.match(env.stdout, new RegExp(`^environment: rescue host: ${d.image} mounted by rdrescue mount on ${at}, read-only until a fixing command\\n  / +/dev/loop\\d+ \\(ext4, ro\\)\\n  /boot +/dev/loop\\d+ \\(ext4, ro\\)\\n`));
  const json = JSON.parse(rdrescue(['env', '--root', at, '--json']).stdout);
  t.same(json.rescueHost.mounts.map((m: { mountPoint: string }) => m.mountPoint), ['/', '/boot']);
  const ls = rdrescue(['chroot', '--root', at, '--', '/bin/busybox', 'ls', '/boot']);
  t.equal(ls.status, 0, ls.stderr);
  t.match(ls.stdout, /initramfs-6\.1\.img/, "the target's /boot is there inside the chroot");
  t.same(mountsUnder(at), [at, join(at, 'boot')], 'chroot unmounted its API filesystems and left the target as mount made it');
  t.equal(rdrescue(['umount', at]).status, 0);
  t.same(loopsOf(d.image), []);
});

t.test('without SOURCE: the one unused disk holding a Linux root is taken', async (t) => {
  const d = buildDisk('gpt', [{ sizeMiB: 24, fs: 'ext4', label: 'scanme', fill: (m) => writeRoot(m, { name: 'Scanned Linux', fstab: ['LABEL=scanme / ext4 defaults 0 1'] }) }]);
  // the broken server's disk as a rescue host sees it: a whole disk with no partition devices (as for loops here)
  const disk = sh('losetup', ['-f', '--show', '-r', d.image]);
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-at-'));
  const at = join(dir, 'root');
  t.teardown(() => {
    rdrescue(['umount', at]);
    sh('losetup', ['-d', disk]);
    d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const m = rdrescue(['mount', '--at', at]);
  // another test's loop holding a root may be attached at this moment: then the list must name ours
  if (m.status === 2) t.match(m.stdout, new RegExp(`${disk} partition 1 .* Scanned Linux 9`));
  else {
    t.equal(m.status, 0, m.stderr);
    t.match(m.stdout, new RegExp(`^mounted Scanned Linux 9 from ${disk} on ${at}`));
    t.equal(rdrescue(['umount', at]).status, 0);
  }
  t.same(mountsUnder(at), []);
  t.same(loopsOf(disk), [], 'no loop left on the disk');
});
