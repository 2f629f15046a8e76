// Issue 13 in a real kernel with device-mapper: a rescue VM whose own root
// is on VG "rhel" gets the broken server's disk as /dev/vdb, laid out as
// RHEL does it (VG "rhel" too, XFS root, /boot), and someone types
// `rdrescue mount`, `rdrescue passwd`, `rdrescue umount` at its shell.
// Checked from outside: the new password is on the disk, the VG is still
// called rhel, and the rescue VM's own VG was never disturbed.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeVolumeGroup, rhelOnLvm, withMounted, withRange } from '../../host/disk.js';
import { cached } from '../cache.js';
import { check, cryptVerifies, timings, type Scenario, type VmEnv } from '../harness.js';
import { buildDracut } from '../initramfs.js';
import { run, seconds } from '../run.js';
import { Vm } from '../vm.js';

const PASSWORD = 'from-the-rescue-vm';
const PROMPT = /switch_root:\/# /;

/** The rescue VM's own disk: a whole-disk PV, VG rhel, LV root holding the shared ext4 root. */
function rescueVmDisk(env: VmEnv): string {
  const disk = join(env.work, 'rescue-vm-disk.img');
  run('truncate', ['-s', '310M', disk]);
  const [root] = makeVolumeGroup(disk, { offset: 0, size: 310 * 1024 * 1024 }, 'rhel', [{ name: 'root', sizeMiB: 300 }]);
  run('dd', [`if=${env.baseDisk}`, `of=${disk}`, 'bs=1M', `seek=${root.offset}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  return disk;
}

async function rescueHost(env: VmEnv): Promise<void> {
  let t = Date.now();
  // The rescue VM only sees its own PV, as RHEL's devices file does; without it, two VGs named rhel stop its boot.
  const lvmConf = join(env.work, 'rescue-vm-lvm.conf');
  writeFileSync(lvmConf, 'devices {\n  filter = [ "a|^/dev/vda$|", "r|.*|" ]\n}\n');
  const image = await cached(`dracut-lvm-${env.key}.img`, async (tmp) =>
    buildDracut(env.kver, tmp, { modules: ['dm', 'lvm'], drivers: ['xfs', 'loop', 'dm-mod'], install: ['losetup', 'sync'], include: [[lvmConf, '/etc/lvm/lvm.conf']] }),
  );
  const initrd = join(env.work, 'rescue-vm-rdrescue.img');
  run(env.sea, ['inject', image.path, '-o', initrd, '--compress', 'none']);
  const own = rescueVmDisk(env);
  const { d: broken, lvs } = rhelOnLvm();
  timings.push(['rescue host: images and disks', seconds(t)]);

  t = Date.now();
  const vm = new Vm({ name: 'rescue host', accel: env.accel, vmlinux: env.vmlinux, initrd, disk: own, extraDisks: [{ path: broken.image, writable: true }], append: 'root=/dev/mapper/rhel-root rd.lvm.vg=rhel ro console=ttyS0 rd.break', log: join(env.work, 'rescue-host.log') });
  try {
    await vm.boot();
    await vm.expect(PROMPT, 300_000, 'the rescue VM shell');
    await vm.prompt(10_000);
    timings.push(['rescue host: boot to the shell', seconds(t)]);
    const own1 = await vm.sh('lvm lvs --noheadings -o vg_name,lv_name,lv_active 2>&1', 60_000);
    check("rescue host: the rescue VM's own root is on VG rhel, active", /rhel\s+root\s+active/.test(own1.output), own1.output);
    t = Date.now();
    const m = await vm.sh('rdrescue mount /dev/vdb --at /run/broken', 300_000);
    timings.push(['rescue host: rdrescue mount', seconds(t)]);
    check('rescue host: rdrescue mount finds the RHEL root on the LV of the attached disk, with its /boot', m.rc === 0 && /mounted Red Hat Enterprise Linux 9 from \/dev\/vdb on \/run\/broken/.test(m.output) && /\/boot +\/dev\/loop\d+ +ext4/.test(m.output), m.output);
    const p = await vm.sh('rdrescue passwd root --root /run/broken --password-stdin', 300_000, `${PASSWORD}\n\x04`);
    check('rescue host: rdrescue passwd on the mounted root makes it writable and says so', p.rc === 0 && /made \/dev\/vdb writable/.test(p.output), p.output);
    const u = await vm.sh('rdrescue umount /run/broken', 120_000);
    check('rescue host: rdrescue umount releases everything', u.rc === 0, u.output);
    const left = await vm.sh('losetup -a; ls /dev/mapper; grep /run/broken /proc/mounts', 30_000);
    check('rescue host: no loop device or mount left; device-mapper has only the rescue VM\'s own rhel-root', !/loop\d/.test(left.output) && !/run\/broken/.test(left.output.split('\n').slice(1).join('\n')) && /rhel-root/.test(left.output), left.output);
    vm.send('sync; echo o > /proc/sysrq-trigger\n');
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
}

export function scenarios(): Scenario[] {
  return [['rescue host: mount an LVM disk next to a same-named VG', rescueHost]];
}
