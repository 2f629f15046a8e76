import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeExt4Root, type Ext4Root } from '../helpers/ext4.js';
import { KVER } from './images.js';

/** What a real root holds about its kernel: the configuration in /boot, modules.builtin and modules.dep. */
function kernelFiles(dir: string, config = (c: string) => c): void {
  mkdirSync(join(dir, 'boot'), { recursive: true });
  writeFileSync(join(dir, 'boot', `config-${KVER}`), config(readFileSync(`/boot/config-${KVER}`, 'utf8')));
  mkdirSync(join(dir, 'lib/modules', KVER), { recursive: true });
  for (const f of ['modules.builtin', 'modules.dep']) copyFileSync(`/lib/modules/${KVER}/${f}`, join(dir, 'lib/modules', KVER, f));
}

function write(dir: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
}

/** A real ext4 root on a loop device, mounted read-only, with an fstab naming it. */
export function ext4Root(): Ext4Root {
  const staging = mkdtempSync(join(tmpdir(), 'rdrescue-ext4root-'));
  write(staging, { 'etc/fstab': 'LABEL=rdroot / ext4 errors=remount-ro 0 1\n', 'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n', 'etc/shadow': 'root:*:19000:0:99999:7:::\n' });
  kernelFiles(staging);
  const r = makeExt4Root({ tree: staging });
  rmSync(staging, { recursive: true, force: true });
  return r;
}

/** A root described the way a RHEL install on XFS over LVM describes itself: fstab and the kernel command line (no device-mapper needed to read them). */
export function xfsLvmRoot(): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'rdrescue-xfslvm-'));
  write(root, {
    'etc/fstab': '/dev/mapper/rhel-root   /   xfs   defaults   0 0\nUUID=4c1c2d41-8d6e-4b70-9b5c-56b2d7ef3a8e /boot xfs defaults 0 0\n/dev/mapper/rhel-swap none swap defaults 0 0\n',
    'etc/kernel/cmdline': 'root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet\n',
  });
  kernelFiles(root);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A root on LUKS: the mapping named by fstab is in crypttab, and the command line unlocks it. */
export function luksRoot(): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'rdrescue-luks-'));
  write(root, {
    'etc/fstab': '/dev/mapper/luks-0f3c /   ext4   defaults   0 1\n',
    'etc/crypttab': 'luks-0f3c UUID=0f3c1d2e-aaaa-bbbb-cccc-1234567890ab none discard\n',
    'etc/kernel/cmdline': 'root=/dev/mapper/luks-0f3c rd.luks.uuid=0f3c1d2e-aaaa-bbbb-cccc-1234567890ab\n',
  });
  kernelFiles(root);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A root whose kernel configuration lacks one CONFIG_RD_* (as a kernel built without that decompressor). */
export function rootWithout(symbol: string): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'rdrescue-cfg-'));
  write(root, { 'etc/fstab': '/dev/vda / ext4 defaults 0 0\n' });
  kernelFiles(root, (c) => c.replace(new RegExp(`^${symbol}=y$`, 'm'), `# ${symbol} is not set`));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
