// The unattended proof of issue 6: a locked-out VM whose fstab names a disk
// that is gone boots once with rd.rdrescue.runbook= and nobody typing; the
// runbook baked in by `rdrescue inject --runbook` resets root's password and
// disables the failing mount, the boot goes on, and after power-off the disk
// (read from outside with debugfs) has both fixes. A normal boot then gets
// past the mount that failed before.
//
// Wiring (test/vm/e2e.ts, after `rescue(f, ...)` for each flavor):
//   await runbookScenario({ name: f.name, image: img /* the generator's image */, rescueImage: f.initrd, sea },
//     { accel, vmlinux, baseDisk: disk.path, work }, check);
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyDisk, OLD_ROOT_PASSWORD } from './disk.js';
import type { Accel } from './kernel.js';
import { run } from './run.js';
import { Vm } from './vm.js';

export const RUNBOOK_ROOT_PASSWORD = 'unattended-Rescue 1';

/** The failing entry: a data disk that was removed; without nofail, mount -a (and systemd) fail on it. */
const BROKEN_FSTAB = '# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=root / ext4 defaults 0 1\nproc /proc proc defaults 0 0\nLABEL=gone-data /data ext4 defaults 0 2\n';

export interface RunbookFlavor {
  name: string;
  /** The generator's own image (dracut or initramfs-tools), without rdrescue. */
  image: string;
  /** The same image with rdrescue injected but no runbook: the boots before and after. */
  rescueImage: string;
  /** The rdrescue single executable. */
  sea: string;
}

export interface RunbookEnv {
  accel: Accel;
  vmlinux: string;
  baseDisk: string;
  work: string;
}

export type Check = (name: string, ok: boolean, detail?: string) => void;

function debugfs(disk: string, request: string, write = false): string {
  return spawnSync('debugfs', [...(write ? ['-w'] : []), '-R', request, disk], { encoding: 'utf8' }).stdout;
}

function cryptVerifies(password: string, hash: string): boolean {
  return spawnSync('perl', ['-e', 'exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 0 : 1)', password, hash]).status === 0;
}

/** Boots with the stand-in init (test/vm/disk.ts) and returns mount -a's exit status as init saw it. */
async function mountARc(vm: Vm): Promise<number> {
  await vm.boot();
  await vm.expect(/@@INIT-REACHED@@/, 240_000, 'the real /sbin/init');
  const m = await vm.expect(/@@MOUNT-A-RC=(\d+)@@/, 60_000, "init's mount -a");
  await vm.exit(60_000);
  return Number(m[1]);
}

export async function runbookScenario(f: RunbookFlavor, env: RunbookEnv, check: Check): Promise<void> {
  const disk = join(env.work, `${f.name}-runbook-disk.img`);
  copyDisk(env.baseDisk, disk);
  const fstabFile = join(env.work, `${f.name}-fstab`);
  writeFileSync(fstabFile, BROKEN_FSTAB);
  debugfs(disk, 'rm /etc/fstab', true);
  debugfs(disk, `write ${fstabFile} /etc/fstab`, true);
  debugfs(disk, 'mkdir /data', true);
  const base = 'root=/dev/vda ro console=ttyS0';

  // The runbook: a hash, never the password (made here as `rdrescue hash` would).
  const hash = run('mkpasswd', ['-m', 'sha-512', '-S', 'runbooksalt12345', RUNBOOK_ROOT_PASSWORD]).trim();
  const runbook = join(env.work, `${f.name}-runbook.yaml`);
  writeFileSync(runbook, ['version: 1', 'target: auto', 'steps:', '  - remount: rw', `  - passwd: { user: root, hash: "${hash}" }`, '  - fstab: { disable: /data }', '  - remount: ro', ''].join('\n'));
  const image = join(env.work, `${f.name}-runbook.img`);
  const rep = JSON.parse(run(f.sea, ['inject', f.image, '-o', image, '--runbook', runbook, '--json'])) as { runbook?: string };
  check(`${f.name} runbook: inject --runbook says where the runbook is in the image`, typeof rep.runbook === 'string', JSON.stringify(rep));
  const inImage = `/${(rep.runbook ?? 'etc/rdrescue/runbook.yaml').replace(/^\/+/, '')}`;

  // 0. The server is broken: a normal boot's mount -a fails on /data.
  const before = new Vm({ name: `${f.name} broken boot`, accel: env.accel, vmlinux: env.vmlinux, initrd: f.rescueImage, disk, append: base, log: join(env.work, `${f.name}-runbook-broken.log`) });
  try {
    check(`${f.name} runbook: before the rescue, mount -a fails on the missing /data disk`, (await mountARc(before)) !== 0);
  } finally {
    await before.kill();
  }

  // 1. The unattended boot: nobody types anything.
  const vm = new Vm({ name: `${f.name} runbook boot`, accel: env.accel, vmlinux: env.vmlinux, initrd: image, disk, append: `${base} rd.rdrescue.runbook=${inImage}`, log: join(env.work, `${f.name}-runbook.log`) });
  try {
    await vm.boot();
    await vm.expect(/step 2 \(line \d+\) passwd root: done/, 240_000, 'the runbook report on the console');
    await vm.expect(/@@INIT-REACHED@@/, 240_000, 'the boot continuing to the real init');
    const m = await vm.expect(/@@MOUNT-A-RC=(\d+)@@/, 60_000, "init's mount -a");
    check(`${f.name} runbook: the same boot continues and mount -a succeeds`, m[1] === '0', vm.transcript().slice(-2000));
    check(`${f.name} runbook: the console never shows the hash`, !vm.transcript().includes(hash));
    await vm.exit(60_000);
  } finally {
    await vm.kill();
  }

  // 2. From outside.
  const fsck = spawnSync('e2fsck', ['-fn', disk], { encoding: 'utf8' });
  check(`${f.name} runbook: e2fsck -fn reports a clean filesystem`, fsck.status === 0, fsck.stdout + fsck.stderr);
  const rootHash = debugfs(disk, 'cat /etc/shadow').split('\n').find((l) => l.startsWith('root:'))?.split(':')[1] ?? '';
  check(`${f.name} runbook: the disk has the new root password`, cryptVerifies(RUNBOOK_ROOT_PASSWORD, rootHash) && !cryptVerifies(OLD_ROOT_PASSWORD, rootHash), rootHash);
  const fstab = debugfs(disk, 'cat /etc/fstab');
  check(`${f.name} runbook: the disk has the fstab fix (the /data line commented out, the rest as it was)`, fstab === BROKEN_FSTAB.replace('LABEL=gone-data', '#LABEL=gone-data'), fstab);
  const journal = debugfs(disk, 'cat /var/log/rdrescue.log');
  check(`${f.name} runbook: the report is in the target's journal`, /"action":"runbook"/.test(journal) && !journal.includes(hash), journal);

  // 3. A normal boot gets past the mount that failed.
  const after = new Vm({ name: `${f.name} normal boot after runbook`, accel: env.accel, vmlinux: env.vmlinux, initrd: f.rescueImage, disk, append: base, log: join(env.work, `${f.name}-runbook-normal.log`) });
  try {
    check(`${f.name} runbook: a normal boot then gets past the previously failing mount`, (await mountARc(after)) === 0);
  } finally {
    await after.kill();
  }
}
