// A UKI booted by real firmware: OVMF runs systemd-boot's stub, the stub
// hands the Debian kernel its .cmdline and .initrd. The UKI is built with
// objcopy (as the tests build them), then rewritten by `rdrescue add
// --unsigned-ok`: the file it added must be in the initramfs at boot.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildUki } from '../../helpers/uki.js';
import { check, timings, type Scenario, type VmEnv } from '../harness.js';
import { run, seconds } from '../run.js';

const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd';

async function ukiBoot(env: VmEnv): Promise<void> {
  const dir = join(env.work, 'uki');
  const root = join(dir, 'root');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(run('sh', ['-c', 'command -v busybox']).trim(), join(root, 'bin/busybox'));
  writeFileSync(
    join(root, 'init'),
    '#!/bin/busybox sh\n/bin/busybox mkdir -p /proc\n/bin/busybox mount -t proc proc /proc\necho "@@CMDLINE $(/bin/busybox cat /proc/cmdline)@@"\n' +
      '[ -e /etc/added-by-rdrescue ] && echo "@@ADDED $(/bin/busybox cat /etc/added-by-rdrescue)@@"\necho o > /proc/sysrq-trigger\n/bin/busybox sleep 30\n',
  );
  chmodSync(join(root, 'init'), 0o755);
  run('sh', ['-c', 'cd "$1" && find . | cpio -o -H newc --quiet > ../initrd.cpio', 'sh', root]);
  writeFileSync(join(dir, 'cmdline'), 'console=ttyS0 panic=-1 uki-boot-test');
  writeFileSync(join(dir, 'uname'), env.kver);
  writeFileSync(join(dir, 'added'), 'written by rdrescue add --unsigned-ok\n');
  const original = join(dir, 'linux.efi');
  buildUki(original, [
    ['.osrel', '/etc/os-release'],
    ['.cmdline', join(dir, 'cmdline')],
    ['.uname', join(dir, 'uname')],
    ['.linux', `/boot/vmlinuz-${env.kver}`],
    ['.initrd', join(dir, 'initrd.cpio')],
  ]);
  const esp = join(dir, 'esp', 'EFI', 'BOOT');
  mkdirSync(esp, { recursive: true });
  const written = spawnSync(env.sea, ['add', original, `${join(dir, 'added')}:/etc/added-by-rdrescue`, '-o', join(esp, 'BOOTX64.EFI'), '--unsigned-ok'], { encoding: 'utf8' });
  check('uki: rdrescue add --unsigned-ok writes a new UKI', written.status === 0, written.stderr);
  copyFileSync(OVMF_VARS, join(dir, 'vars.fd'));
  const t = Date.now();
  // QEMU's virtual FAT drive serves the directory as the ESP: no vfat in this kernel, no mount needed.
  const qemu = spawnSync(
    'qemu-system-x86_64',
    ['-accel', 'tcg', '-m', '512M', '-nographic', '-no-reboot', '-net', 'none',
      '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${join(dir, 'vars.fd')}`,
      '-drive', `file=fat:rw:${join(dir, 'esp')},format=raw`],
    { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 26 },
  );
  const out = (qemu.stdout ?? '').replace(/\r/g, '');
  writeFileSync(join(dir, 'console.log'), out);
  timings.push(['uki: OVMF boot of the rewritten UKI', seconds(t)]);
  check('uki: OVMF booted the stub and the stub the kernel with its .cmdline', out.includes('@@CMDLINE console=ttyS0 panic=-1 uki-boot-test@@'), `console in ${join(dir, 'console.log')}`);
  check('uki: the file rdrescue added to .initrd is there at boot', out.includes('@@ADDED written by rdrescue add --unsigned-ok@@'), `console in ${join(dir, 'console.log')}`);
}

export function scenarios(): Scenario[] {
  return [['uki: OVMF boots a UKI rewritten by add --unsigned-ok', ukiBoot]];
}
