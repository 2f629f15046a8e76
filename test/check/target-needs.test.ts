// What the root needs, read from a target: fstab, crypttab, /etc/kernel/cmdline, GRUB's defaults, BLS entries.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rootNeeds } from '../../src/check/target-needs.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-needs-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
function target(files: Record<string, string>): string {
  const root = join(work, String(++n));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  mkdirSync(root, { recursive: true });
  return root;
}

t.test('fstab gives device, type and fsck pass; LVM names with escaped dashes are logical volumes', async (t) => {
  const r = rootNeeds(target({ 'etc/fstab': '# comment\n/dev/mapper/my--vg-root / ext4 errors=remount-ro 0 1\n' }));
  t.match(r, { device: '/dev/mapper/my--vg-root', fsType: 'ext4', fsckPass: 1, from: '/etc/fstab line 2', live: false });
  t.match(r.lvm, /logical volume/);
  t.equal(rootNeeds(target({ 'etc/fstab': '/dev/mapper/mpatha / xfs defaults 0 0\n' })).lvm, undefined, 'a multipath name has no single dash');
  t.match(rootNeeds(target({ 'etc/fstab': '/dev/vg0/root / xfs defaults 0 0\n' })).lvm, /logical volume/);
});

t.test("GRUB's defaults: rd.lvm.lv in GRUB_CMDLINE_LINUX; rd.lvm=0 turns LVM off", async (t) => {
  const r = rootNeeds(target({ 'etc/fstab': 'UUID=1 / xfs defaults 0 0\n', 'etc/default/grub': 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet"\n' }));
  t.match(r.lvm, /\/etc\/default\/grub.*rd\.lvm\.lv|rhel\/root/);
  const off = rootNeeds(target({ 'etc/fstab': 'UUID=1 / xfs defaults 0 0\n', 'etc/default/grub': "GRUB_CMDLINE_LINUX='rd.lvm.lv=rhel/root'\nGRUB_CMDLINE_LINUX_DEFAULT=\"rd.lvm=0\"\n" }));
  t.equal(off.lvm, undefined);
});

t.test('BLS entries: those of the kernel version checked; root= and rootfstype= when fstab has no /', async (t) => {
  const root = target({
    'etc/fstab': '/dev/sdb1 /data ext4 defaults 0 2\n',
    'boot/loader/entries/a-5.14.0-1.conf': 'title old\nversion 5.14.0-1\nlinux /vmlinuz-5.14.0-1\noptions root=/dev/md0 rootfstype=ext4\n',
    'boot/loader/entries/a-5.14.0-2.conf': 'title new\nversion 5.14.0-2\nlinux /vmlinuz-5.14.0-2\noptions root=UUID=abc rootfstype=xfs rd.luks.uuid=luks-1234\n',
  });
  const r = rootNeeds(root, { version: '5.14.0-2' });
  t.match(r, { device: 'UUID=abc', fsType: 'xfs' });
  t.match(r.from, /root= on the kernel command line \(\/boot\/loader\/entries\/a-5\.14\.0-2\.conf\)/);
  t.match(r.luks, /luks-1234/);
  t.equal(r.md, undefined);
  t.match(rootNeeds(root, { version: '5.14.0-1' }).md, /\/dev\/md0/);
});

t.test('crypttab: a root that is a crypttab mapping needs LUKS; noauto entries do not count; /etc/kernel/cmdline is read', async (t) => {
  t.match(rootNeeds(target({ 'etc/fstab': '/dev/mapper/cryptroot / ext4 defaults 0 1\n', 'etc/crypttab': 'cryptroot UUID=1 none luks\n' })).luks, /LUKS mapping cryptroot/);
  const lvmOnLuks = rootNeeds(target({ 'etc/fstab': '/dev/mapper/vg-root / ext4 defaults 0 1\n', 'etc/crypttab': 'sda3_crypt UUID=1 none luks,discard\nbackup UUID=2 none noauto\n' }));
  t.match(lvmOnLuks.luks, /unlocks sda3_crypt at boot and the root is on LVM/);
  t.notMatch(lvmOnLuks.luks, /backup/);
  t.match(rootNeeds(target({ 'etc/fstab': 'UUID=1 / ext4 defaults 0 1\n', 'etc/kernel/cmdline': 'root=UUID=1 rd.luks.name=abcd=root\n' })).luks, /\/etc\/kernel\/cmdline.*abcd=root/);
});
