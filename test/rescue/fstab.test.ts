// fstab: what would stop the boot (checked against a fake /dev and
// /proc/filesystems so the answer does not depend on this machine), and the
// two fixes, which must keep every other byte and a backup.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fstabCheck } from '../../src/index.js';
import { spawnSync } from 'node:child_process';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { DEFAULT_DIRS } from '../helpers/ext4.js';
import { debianRoot, isReadOnly, rhelRoot } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-fstab-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const dev = join(work, 'dev');
const proc = join(work, 'proc');
mkdirSync(join(dev, 'disk/by-uuid'), { recursive: true });
mkdirSync(join(dev, 'mapper'), { recursive: true });
writeFileSync(join(dev, 'disk/by-uuid/0a1b2c3d-0000-4000-8000-00000000dead'), '');
writeFileSync(join(dev, 'mapper/rl-swap'), '');
mkdirSync(proc);
writeFileSync(join(proc, 'filesystems'), 'nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\n\text4\n\tvfat\n');

t.test('--check names what would fail at boot, and why', async (t) => {
  const r = rhelRoot(t, {
    prepare: (d) => {
      // the target's own kernel can load xfs, not cifs
      mkdirSync(join(d, 'lib/modules/5.14.0-427.el9.x86_64'), { recursive: true });
      writeFileSync(join(d, 'lib/modules/5.14.0-427.el9.x86_64/modules.dep'), 'kernel/fs/xfs/xfs.ko.xz: kernel/lib/libcrc32c.ko.xz\nkernel/fs/fat/vfat.ko.xz: kernel/fs/fat/fat.ko.xz\n');
    },
  });
  const entries = fstabCheck(r.mnt, { devDir: dev, procDir: proc, useBlkid: false });
  const by = Object.fromEntries(entries.map((e) => [e.mountPoint === 'none' ? e.spec : e.mountPoint, e]));
  t.same(by['/'].problems, [], 'root: device present, xfs from the target kernel modules');
  t.same(by['/boot'].problems, ['device UUID=0a1b2c3d-0000-4000-8000-00000000beef not found', 'mount point /boot does not exist in the target']);
  t.equal(by['/boot'].blocksBoot, true);
  t.same(by['/dev/mapper/rl-swap'].problems, [], 'swap: device present, no mount point needed');
  t.same(by['/mnt/backup'].problems, ['device LABEL=backup not found', 'mount point /mnt/backup does not exist in the target']);
  t.match(by['/mnt/nas'].problems, [/mount point/, /filesystem type cifs is not known/]);
  t.equal(by['/mnt/nas'].blocksBoot, false, 'nofail: a problem, but the boot goes on');
  t.same(by['/tmp'].problems, []);
  t.same(entries.map((e) => e.line), [6, 7, 8, 9, 10, 11], 'line numbers of the file');

  const cli = rdrescue(['fstab', '--root', r.mnt]);
  t.equal(cli.status, 1, 'exit 1: /boot would stop the boot');
  t.match(cli.stdout, /\/boot .*FAILS BOOT: device UUID=0a1b2c3d-0000-4000-8000-00000000beef not found/);
});

t.test('--nofail and --disable keep every other byte, a backup, and are idempotent; undo restores', async (t) => {
  const r = rhelRoot(t);
  const fstab = join(r.mnt, 'etc/fstab');
  const original = readFileSync(fstab);

  const dry = rdrescue(['fstab', '--root', r.mnt, '--nofail', '/mnt/backup', '--dry-run']);
  t.equal(dry.status, 0, dry.stderr);
  t.match(dry.stdout, /would: \/etc\/fstab: line 9 \(\/mnt\/backup\): nofail added/);
  t.ok(isReadOnly(r.mnt), '--dry-run: still read-only');
  t.same(readFileSync(fstab), original);

  let res = rdrescue(['fstab', '--root', r.mnt, '--nofail', '/mnt/backup']);
  t.equal(res.status, 0, res.stderr);
  t.equal(readFileSync(fstab, 'latin1'), original.toString('latin1').replace('defaults,noatime 0 2', 'defaults,noatime,nofail 0 2'), 'only ",nofail" inserted');
  t.same(readFileSync(join(r.mnt, 'etc/fstab.rdrescue.bak')), original, 'backup of the previous content');
  res = rdrescue(['fstab', '--root', r.mnt, '--nofail', '/mnt/backup']);
  t.match(res.stdout, /already done/);

  const afterNofail = readFileSync(fstab, 'latin1');
  res = rdrescue(['fstab', '--root', r.mnt, '--disable', '/boot']);
  t.equal(res.status, 0, res.stderr);
  t.equal(readFileSync(fstab, 'latin1'), afterNofail.replace('\nUUID=0a1b2c3d-0000-4000-8000-00000000beef /boot', '\n#UUID=0a1b2c3d-0000-4000-8000-00000000beef /boot'), 'only "#" added');
  res = rdrescue(['fstab', '--root', r.mnt, '--disable', '/boot']);
  t.match(res.stdout, /already done/);
  res = rdrescue(['fstab', '--root', r.mnt, '--nofail', '/dev/mapper/rl-swap']);
  t.equal(res.status, 0, 'swap is named by its device');
  t.match(readFileSync(fstab, 'latin1'), /rl-swap +none +swap +defaults,nofail/);

  res = rdrescue(['fstab', '--root', r.mnt, '--disable', '/nowhere']);
  t.equal(res.status, 3);
  t.match(res.stderr, /^rdrescue: .*etc\/fstab: no entry mounts \/nowhere\n$/);

  for (let i = 0; i < 3; i++) t.equal(rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']).status, 0, `undo ${i + 1}`);
  t.same(readFileSync(fstab), original, 'three undos give back the original bytes');
  const st = rdrescue(['status', '--root', r.mnt]);
  t.match(st.stdout, /1 .*fstab --nofail \/mnt\/backup  \(undone\)/);
  const none = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']);
  t.equal(none.status, 3);
  t.match(none.stderr, /nothing to undo/);
});

t.test('in a mount namespace with a bare /dev (no /dev/disk/by-*, as in a container or an initramfs without udev)', async (t) => {
  const r = debianRoot(t, {
    dirs: [...DEFAULT_DIRS, 'data'],
    prepare: (d) => writeFileSync(join(d, 'etc/fstab'), `UUID=11111111-2222-3333-4444-555555555555 / ext4 errors=remount-ro 0 1\nUUID=0a1b2c3d-0000-4000-8000-00000000f00d /data ext4 defaults 0 2\n`),
  });
  const fstab = readFileSync(join(r.mnt, 'etc/fstab'));
  // a tmpfs on /dev with only the nodes node needs: nothing names any disk
  const bare = (args: string[]) =>
    spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && exec "$@"', 'sh', process.execPath, BUNDLE, ...args], { encoding: 'utf8' });
  const check = bare(['fstab', '--root', r.mnt]);
  t.equal(check.status, 1, 'exit 1: an entry would fail the boot');
  t.match(check.stdout, /^\s+1\s+\/\s+ext4 .* ok$/m, "the root's own entry is fine: it is the mounted filesystem holding the target");
  t.match(check.stdout, /^\s+2\s+\/data .*FAILS BOOT: device UUID=0a1b2c3d-0000-4000-8000-00000000f00d not found/m);
  t.notMatch(check.stdout, /--(nofail|disable) \/(\s|,|$)/, 'never suggests touching the "/" line');
  const disable = bare(['fstab', '--root', r.mnt, '--disable', '/']);
  t.equal(disable.status, 4, `--disable / refused: ${disable.stderr}`);
  t.match(disable.stderr, /fstab --disable \/: refused/);
  t.equal(bare(['fstab', '--root', r.mnt, '--nofail', '/']).status, 4, '--nofail / refused');
  const bySpec = bare(['fstab', '--root', r.mnt, '--disable', 'UUID=11111111-2222-3333-4444-555555555555']);
  t.equal(bySpec.status, 4, 'the "/" line named by its device is refused as well');
  t.match(bySpec.stderr, /line 1 mounts \//);
  t.same(readFileSync(join(r.mnt, 'etc/fstab')), fstab, 'the file is unchanged');
  t.ok(isReadOnly(r.mnt), 'nor was the target remounted');
  const good = bare(['fstab', '--root', r.mnt, '--json']);
  t.equal(good.status, 1, '--json: exit 1 as well');
});
