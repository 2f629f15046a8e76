// Issue 13 in a real kernel with device-mapper: a rescue VM whose own root
// is on VG "rhel" gets the broken server's disk as /dev/vdb, laid out as
// RHEL does it (VG "rhel" too, XFS root, /boot), and someone types
// `rdrescue mount`, `rdrescue passwd`, `rdrescue umount` at its shell.
// Checked from outside: the new password is on the disk, the VG is still
// called rhel, and the rescue VM's own VG was never disturbed.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildDisk, makeVolumeGroup, rhelOnLvm, withMounted, withRange, writeRoot } from '../../host/disk.js';
import { cached } from '../cache.js';
import { buildRootTree } from '../disk.js';
import { check, cryptVerifies, timings, type Scenario, type VmEnv } from '../harness.js';
import { buildDracut } from '../initramfs.js';
import { run, seconds } from '../run.js';
import { Vm } from '../vm.js';

const PASSWORD = 'from-the-rescue-vm';
const PROMPT = /switch_root:\/# /;

/** Both VMs come from one image: the rescue VM's XFS root has the broken one's UUID. */
const XFS_UUID = '3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b';

/** The rescue VM's own disk, as RHEL lays it out: a whole-disk PV, VG rhel, an XFS root on LV root. */
function rescueVmDisk(env: VmEnv): { disk: string; root: { offset: number; size: number } } {
  const disk = join(env.work, 'rescue-vm-disk.img');
  run('truncate', ['-s', '310M', disk]);
  const tree = join(env.work, 'rescue-vm-tree');
  buildRootTree(tree);
  const [root] = makeVolumeGroup(disk, { offset: 0, size: 310 * 1024 * 1024 }, 'rhel', [{ name: 'root', sizeMiB: 300, fs: 'xfs', uuid: XFS_UUID, fill: (m) => run('cp', ['-a', `${tree}/.`, m]) }]);
  rmSync(tree, { recursive: true, force: true });
  return { disk, root };
}

const LUKS_PASSPHRASE = 'correct horse battery';

/** aes-xts-plain64 over 512-byte sectors, the IV being the sector number (LE) within the data segment: what dm-crypt does. */
function xts(key: Buffer, data: Buffer, encrypt: boolean): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length / 512; i++) {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt(i));
    const c = encrypt ? createCipheriv('aes-256-xts', key, iv) : createDecipheriv('aes-256-xts', key, iv);
    Buffer.concat([c.update(data.subarray(i * 512, (i + 1) * 512)), c.final()]).copy(out, i * 512);
  }
  return out;
}

/**
 * A LUKS2 disk made without device-mapper: cryptsetup writes the header with
 * a volume key we chose, and we encrypt an ext4 image into the data segment
 * ourselves. GPT: /boot ext4, then LUKS2 holding the root (named in crypttab).
 */
function luksDisk(env: VmEnv) {
  const key = randomBytes(64);
  const d = buildDisk('gpt', [{ sizeMiB: 16, fs: 'ext4', label: 'lboot', fill: (m) => writeFileSync(join(m, 'vmlinuz-6.8'), 'k') }, { sizeMiB: 64, name: 'cryptroot' }]);
  const keyFile = join(env.work, 'luks-volume-key');
  const pass = join(env.work, 'luks-passphrase');
  writeFileSync(keyFile, key);
  writeFileSync(pass, LUKS_PASSPHRASE);
  const uuid = '6c1f3a52-9d4e-4b8a-a0f1-2e3d4c5b6a79';
  const dataOffset = withRange(d.image, d.parts[1], (loop) => {
    execFileSync('cryptsetup', ['luksFormat', '-q', '--type', 'luks2', '--uuid', uuid, '--cipher', 'aes-xts-plain64', '--key-size', '512', '--sector-size', '512', '--volume-key-file', keyFile, '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', pass, loop]);
    return Number(/offset:\s+(\d+) \[bytes\]/.exec(execFileSync('cryptsetup', ['luksDump', loop], { encoding: 'utf8' }))![1]);
  });
  const tree = join(env.work, 'luks-root-tree');
  writeRoot(tree, { name: 'Ubuntu', fstab: ['/dev/mapper/luks-root / ext4 defaults 0 1', 'LABEL=lboot /boot ext4 defaults 0 2'] });
  writeFileSync(join(tree, 'etc/crypttab'), `luks-root UUID=${uuid} none luks\n`);
  const fs = join(env.work, 'luks-root.ext4');
  const size = d.parts[1].size - dataOffset;
  run('mkfs.ext4', ['-q', '-F', '-L', 'lroot', '-d', tree, fs, `${size / 1024}k`]);
  rmSync(tree, { recursive: true });
  const fd = openSync(d.image, 'r+');
  writeSync(fd, xts(key, readFileSync(fs), true), 0, size, d.parts[1].offset + dataOffset);
  closeSync(fd);
  rmSync(fs);
  /** The root filesystem as plain bytes again, for debugfs. */
  const decrypted = (out: string) => {
    const buf = Buffer.alloc(size);
    const r = openSync(d.image, 'r');
    readSync(r, buf, 0, size, d.parts[1].offset + dataOffset);
    closeSync(r);
    writeFileSync(out, xts(key, buf, false));
    return out;
  };
  return { d, decrypted };
}

async function rescueHost(env: VmEnv): Promise<void> {
  let t = Date.now();
  // The rescue VM only sees its own PV, as RHEL's devices file does; without it, two VGs named rhel stop its boot.
  const lvmConf = join(env.work, 'rescue-vm-lvm.conf');
  writeFileSync(lvmConf, 'devices {\n  filter = [ "a|^/dev/vda$|", "r|.*|" ]\n}\n');
  const image = await cached(`dracut-rescue-host-${env.key}.img`, async (tmp) =>
    buildDracut(env.kver, tmp, { modules: ['dm', 'lvm', 'crypt'], drivers: ['xfs', 'loop', 'dm-mod', 'dm-crypt'], install: ['losetup', 'sync', 'cryptsetup'], include: [[lvmConf, '/etc/lvm/lvm.conf']] }),
  );
  const initrd = join(env.work, 'rescue-vm-rdrescue.img');
  run(env.sea, ['inject', image.path, '-o', initrd, '--compress', 'none']);
  const own = rescueVmDisk(env);
  const { d: broken, lvs } = rhelOnLvm(XFS_UUID);
  const crypt = luksDisk(env);
  timings.push(['rescue host: images and disks', seconds(t)]);

  t = Date.now();
  const vm = new Vm({ name: 'rescue host', accel: env.accel, vmlinux: env.vmlinux, initrd, disk: own.disk, extraDisks: [{ path: broken.image, writable: true }, { path: crypt.d.image, writable: true }], append: 'root=/dev/mapper/rhel-root rootfstype=xfs rd.lvm.vg=rhel rd.luks=0 ro console=ttyS0 rd.break', log: join(env.work, 'rescue-host.log') });
  try {
    await vm.boot();
    await vm.expect(PROMPT, 300_000, 'the rescue VM shell');
    timings.push(['rescue host: boot to the shell', seconds(t)]);
    const own1 = await vm.sh('lvm lvs --noheadings -o vg_name,lv_name,lv_active 2>&1', 60_000);
    check("rescue host: the rescue VM's own root is on VG rhel, active", /rhel\s+root\s+active/.test(own1.output), own1.output);
    t = Date.now();
    const m = await vm.sh('rdrescue mount /dev/vdb --at /run/broken', 300_000);
    timings.push(['rescue host: rdrescue mount', seconds(t)]);
    check('rescue host: rdrescue mount finds the RHEL root on the LV of the attached disk, with its /boot', m.rc === 0 && /mounted Red Hat Enterprise Linux 9 from \/dev\/vdb on \/run\/broken/.test(m.output) && /\/boot +\/dev\/loop\d+ +ext4/.test(m.output), m.output);
    check("rescue host: the broken root, an XFS twin of the rescue VM's own root, is mounted with nouuid", /\/ +\/dev\/loop\d+ +xfs +ro,nouuid/.test(m.output), m.output);
    const p = await vm.sh('rdrescue passwd root --root /run/broken --password-stdin', 300_000, `${PASSWORD}\n\x04`);
    check('rescue host: rdrescue passwd on the mounted root makes it writable and says so', p.rc === 0 && /made \/dev\/vdb writable/.test(p.output), p.output);
    const u = await vm.sh('rdrescue umount /run/broken', 120_000);
    check('rescue host: rdrescue umount releases everything', u.rc === 0, u.output);
    // LUKS2 + ext4 on /dev/vdc: a wrong passphrase first, then the right one
    const wrong = await vm.sh('rdrescue mount /dev/vdc --at /run/crypt --passphrase-stdin', 300_000, 'not the passphrase\n\x04');
    check('rescue host: a wrong LUKS passphrase gives one line and exit 1', wrong.rc === 1 && /^rdrescue: .*\/dev\/vdc partition 2 \(LUKS2\): wrong passphrase; nothing was left open$/m.test(wrong.output), wrong.output);
    const after = await vm.sh('ls /dev/mapper; losetup -a; ls /run/rdrescue/mounts', 30_000);
    check('rescue host: after the wrong passphrase nothing is open, attached or recorded', !/rdrescue-luks|loop\d|\.json/.test(after.output), after.output);
    const c = await vm.sh('rdrescue mount /dev/vdc --at /run/crypt --passphrase-stdin', 300_000, `${LUKS_PASSPHRASE}\n\x04`);
    check('rescue host: the LUKS2 root is opened and mounted as its crypttab and fstab say, with its /boot', c.rc === 0 && /mounted Ubuntu 9 from \/dev\/vdc on \/run\/crypt/.test(c.output) && /\/boot +\/dev\/loop\d+ +ext4/.test(c.output), c.output);
    const cp = await vm.sh('rdrescue passwd root --root /run/crypt --password-stdin', 300_000, `${PASSWORD}\n\x04`);
    check('rescue host: passwd on the LUKS root makes it writable without asking for the passphrase again', cp.rc === 0 && /made \/dev\/vdc writable/.test(cp.output), cp.output);
    const cu = await vm.sh('rdrescue umount /run/crypt', 120_000);
    check('rescue host: umount closes the LUKS mapping and detaches everything', cu.rc === 0, cu.output);
    const left = await vm.sh('losetup -a; ls /dev/mapper; grep /run/broken /proc/mounts', 30_000);
    check('rescue host: no loop device or mount left; device-mapper has only the rescue VM\'s own rhel-root', !/loop\d|rdrescue-luks/.test(left.output) && !/run\/broken/.test(left.output.split('\n').slice(1).join('\n')) && /rhel-root/.test(left.output), left.output);
    // and the classic rd.break rescue of the rescue VM itself: RHEL's default, an XFS root on LVM
    const own2 = await vm.sh('rdrescue passwd root --password-stdin', 300_000, `${PASSWORD}\n\x04`);
    check('rd.break on an XFS root on LVM: rdrescue passwd root at the prompt', own2.rc === 0 && /remount \/sysroot/.test(own2.output), own2.output);
    vm.send('sync; echo u > /proc/sysrq-trigger; sleep 1; echo o > /proc/sysrq-trigger\n');
    await vm.exit(60_000);
  } finally {
    await vm.kill();
  }

  const shadow = withMounted(broken.image, lvs[0], (mnt) => execFileSync('cat', [join(mnt, 'etc/shadow')], { encoding: 'utf8' }), ['ro', 'nouuid']);
  const hash = shadow.split('\n').find((l) => l.startsWith('root:'))?.split(':')[1] ?? '';
  check('rescue host: the new root password is on the broken disk, seen from outside', cryptVerifies(PASSWORD, hash), hash);
  const vg = withRange(broken.image, broken.parts[1], (loop) => execFileSync('lvm', ['pvs', '--devices', loop, '--noheadings', '-o', 'vg_name', loop], { encoding: 'utf8', env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  check('rescue host: the broken disk\'s VG is still called rhel', vg === 'rhel', vg);
  broken.cleanup();
  const ownShadow = withMounted(own.disk, own.root, (mnt) => execFileSync('cat', [join(mnt, 'etc/shadow')], { encoding: 'utf8' }), ['ro']);
  const ownHash = ownShadow.split('\n').find((l) => l.startsWith('root:'))?.split(':')[1] ?? '';
  check('rd.break on an XFS root on LVM: the new password is on the rescue VM\'s own XFS root, seen from outside', cryptVerifies(PASSWORD, ownHash), ownHash);
  const plain = crypt.decrypted(join(env.work, 'luks-root-decrypted.ext4'));
  const cshadow = execFileSync('debugfs', ['-R', 'cat /etc/shadow', plain], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const chash = cshadow.split('\n').find((l) => l.startsWith('root:'))?.split(':')[1] ?? '';
  check('rescue host: the new root password is inside the LUKS volume, seen from outside', cryptVerifies(PASSWORD, chash), chash);
  crypt.d.cleanup();
}

export function scenarios(): Scenario[] {
  return [['rescue host: an LVM disk next to a same-named VG, and a LUKS2 disk', rescueHost]];
}
