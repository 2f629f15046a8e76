// The rescues of issues 5 and 6: a locked-out VM rescued at the break prompt
// of each generator by typing one rdrescue command, and two VMs repaired by
// runbooks with nobody typing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyDisk, OLD_ROOT_PASSWORD, shadow as shadowLines } from '../disk.js';
import { check, cryptVerifies, debugfs, normalBoot, timings, type Scenario, type VmEnv } from '../harness.js';
import type { Accel } from '../kernel.js';
import { run, seconds } from '../run.js';
import { Vm } from '../vm.js';

export const NEW_ROOT_PASSWORD = 'n3w-Rescued pw';

export interface Flavor {
  name: string;
  initrd: string;
  breakArg: string;
  prompt: RegExp;
  /** What stands before the shell (systemd's sulogin): Enter is pressed until the prompt comes. */
  gate?: RegExp;
  /** An SELinux label given to the disk's /etc/shadow before the rescue (debugfs ea_set): it must survive, and then no relabel is asked for. */
  label?: string;
}

export async function rescue(f: Flavor, env: { accel: Accel; vmlinux: string; baseDisk: string; work: string }): Promise<void> {
  const disk = join(env.work, `${f.name}-disk.img`);
  copyDisk(env.baseDisk, disk);
  if (f.label) run('debugfs', ['-w', '-R', `ea_set /etc/shadow security.selinux ${f.label}`, disk]);
  const base = 'root=/dev/vda ro console=ttyS0';

  // 1. Boot into the break shell and type the one command.
  let t = Date.now();
  const vm = new Vm({ name: `${f.name} rescue boot`, accel: env.accel, vmlinux: env.vmlinux, initrd: f.initrd, disk, append: `${base} ${f.breakArg}`, log: join(env.work, `${f.name}-rescue.log`) });
  try {
    await vm.boot();
    if (f.gate) {
      await vm.expect(f.gate, 240_000, `the ${f.name} emergency shell's gate`);
      for (let i = 0; ; i++) {
        await new Promise((r) => setTimeout(r, 500));
        vm.send('\n');
        try {
          await vm.expect(f.prompt, 5_000, `the ${f.name} break prompt`);
          break;
        } catch (e) {
          if (i === 5) throw e;
        }
      }
    } else await vm.expect(f.prompt, 240_000, `the ${f.name} break prompt`);
    timings.push([`${f.name}: boot to prompt`, seconds(t)]);
    // A misaligned or unreadable appended segment is only logged, and its files are silently missing.
    const unpack = /Initramfs unpacking failed[^\n]*/.exec(vm.transcript());
    check(`${f.name}: the kernel unpacked every segment of the injected image`, !unpack, unpack?.[0]);
    t = Date.now();
    // On a terminal --password-stdin reads to end of input: the password, Enter, then Ctrl-D.
    const r = await vm.sh('rdrescue passwd root --password-stdin', 180_000, `${NEW_ROOT_PASSWORD}\n\x04`);
    timings.push([`${f.name}: rdrescue passwd`, seconds(t)]);
    check(`${f.name}: rdrescue passwd root --password-stdin exits 0 at the prompt`, r.rc === 0, r.output);
    check(`${f.name}: the typed password never appears in rdrescue's output`, !r.output.split('\n').slice(2).join('\n').includes(NEW_ROOT_PASSWORD), r.output);
    // Power off: sysrq u remounts every filesystem read-only (a clean journal), o powers off.
    t = Date.now();
    vm.send('sync; echo u > /proc/sysrq-trigger; sleep 1; echo o > /proc/sysrq-trigger\n');
    await vm.exit(60_000);
  } finally {
    await vm.kill();
  }

  // 2. From outside, without mounting.
  const fsck = spawnSync('e2fsck', ['-fn', disk], { encoding: 'utf8' });
  check(`${f.name}: e2fsck -fn reports a clean filesystem after the rescue`, fsck.status === 0, fsck.stdout + fsck.stderr);
  const shadow = debugfs(disk, 'cat /etc/shadow').out;
  const lines = shadow.split('\n').filter(Boolean);
  const rootHash = lines.find((l) => l.startsWith('root:'))?.split(':')[1] ?? '';
  check(`${f.name}: the new root password verifies with the system's crypt`, cryptVerifies(NEW_ROOT_PASSWORD, rootHash), `root hash: ${rootHash}`);
  check(`${f.name}: the old root password no longer verifies`, rootHash !== '' && !cryptVerifies(OLD_ROOT_PASSWORD, rootHash));
  check(`${f.name}: every other account is unchanged, in order`, JSON.stringify(lines.filter((l) => !l.startsWith('root:'))) === JSON.stringify(shadowLines().slice(1)), shadow);
  const relabel = debugfs(disk, 'stat /.autorelabel');
  if (f.label) {
    const ea = debugfs(disk, 'ea_list /etc/shadow').out;
    check(`${f.name}: debugfs ea_list shows the label on the new /etc/shadow`, ea.includes(`security.selinux`) && ea.includes(f.label), ea);
    check(`${f.name}: no /.autorelabel: the label was kept, no full relabel is needed`, !/Inode:\s*\d+/.test(relabel.out), relabel.out);
  } else check(`${f.name}: /.autorelabel exists (SELinux is enforcing on the target, the shadow had no label to keep)`, /Inode:\s*\d+/.test(relabel.out), relabel.err);

  // 3. A normal boot reaches the real init, which sees the new shadow.
  t = Date.now();
  const next = await normalBoot(`${f.name} normal boot`, env, f.initrd, disk, base, join(env.work, `${f.name}-normal.log`));
  const want = createHash('sha256').update(shadow).digest('hex');
  check(`${f.name}: a normal boot reaches /sbin/init with the new /etc/shadow`, next.shadowSha === want, `init saw ${next.shadowSha}, debugfs read ${want}`);
  timings.push([`${f.name}: normal boot to power-off`, seconds(t)]);
}

/**
 * Issue 6, unattended: a server whose console nobody types into. Its fstab
 * names a missing disk and its root password is lost; a runbook fixes both
 * at boot, from a rescue disk named on the kernel command line (device) or
 * baked into the image by `inject --runbook` (baked, which must run once).
 */
export async function unattended(f: Flavor, how: 'device' | 'baked', env: { accel: Accel; vmlinux: string; baseDisk: string; work: string; sea: string; image: string; compress: string }): Promise<void> {
  const name = `${f.name} unattended (${how})`;
  const disk = join(env.work, `${f.name}-${how}-disk.img`);
  copyDisk(env.baseDisk, disk);
  const fstab = join(env.work, `${f.name}-${how}-fstab`);
  writeFileSync(fstab, 'LABEL=root / ext4 defaults 0 1\nproc /proc proc defaults 0 0\nLABEL=data /data ext4 defaults 0 2\n');
  run('debugfs', ['-w', '-R', `rm /etc/fstab`, disk]);
  run('debugfs', ['-w', '-R', `write ${fstab} /etc/fstab`, disk]);
  const hash = run('mkpasswd', ['-m', 'sha-512', NEW_ROOT_PASSWORD]).trim();
  const runbook = `version: 1\ntarget: auto\nsteps:\n  - remount: rw\n  - passwd: { user: root, hash: "${hash}" }\n  - fstab: { disable: /data }\n  - relabel: auto\n  - remount: ro\n`;
  const base = 'root=/dev/vda ro console=ttyS0';
  let initrd = f.initrd;
  let append = base;
  const extraDisks: string[] = [];
  if (how === 'device') {
    const tree = join(env.work, `${f.name}-rescue-tree`);
    mkdirSync(tree);
    writeFileSync(join(tree, 'runbook.yaml'), runbook);
    const rescue = join(env.work, `${f.name}-rescue.img`);
    run('mkfs.ext4', ['-q', '-F', '-L', 'rescue', '-d', tree, rescue, '8M']);
    extraDisks.push(rescue);
    append = `${base} rd.rdrescue.runbook=LABEL=rescue:/runbook.yaml`;
  } else {
    const rb = join(env.work, `${f.name}-runbook.yaml`);
    writeFileSync(rb, runbook);
    initrd = join(env.work, `${f.name}-baked.img`);
    run(env.sea, ['inject', env.image, '-o', initrd, '--compress', env.compress, '--runbook', rb]);
  }

  let t = Date.now();
  const vm = new Vm({ name, accel: env.accel, vmlinux: env.vmlinux, initrd, disk, extraDisks, append, log: join(env.work, `${f.name}-${how}.log`) });
  let consoleText = '';
  let mountRc = -1;
  try {
    await vm.boot();
    const done = await vm.expect(/rdrescue: runbook \S+: (done|FAILED[^\n]*)/, 300_000, 'the runbook report on the console');
    check(`${name}: the runbook ran at boot with nobody typing, and said so on the console`, done[1] === 'done', done[0]);
    await vm.expect(/@@INIT-REACHED@@/, 120_000, 'the real /sbin/init after the runbook');
    mountRc = Number((await vm.expect(/@@MOUNT-A-RC=(\d+)@@/, 60_000, 'mount -a in init'))[1]);
    await vm.exit(60_000);
    consoleText = vm.transcript();
  } finally {
    await vm.kill();
  }
  timings.push([`${name}: boot, runbook, power-off`, seconds(t)]);
  check(`${name}: the same boot went on to init and past the fixed mount`, mountRc === 0, `mount -a exit ${mountRc}`);
  const fsck = spawnSync('e2fsck', ['-fn', disk], { encoding: 'utf8' });
  check(`${name}: e2fsck -fn reports a clean filesystem`, fsck.status === 0, fsck.stdout + fsck.stderr);
  const shadow = debugfs(disk, 'cat /etc/shadow').out;
  const rootHash = shadow.split('\n').find((l) => l.startsWith('root:'))?.split(':')[1] ?? '';
  check(`${name}: the new root password verifies, the old does not`, cryptVerifies(NEW_ROOT_PASSWORD, rootHash) && !cryptVerifies(OLD_ROOT_PASSWORD, rootHash), rootHash);
  const newFstab = debugfs(disk, 'cat /etc/fstab').out;
  check(`${name}: /data is disabled in fstab, the root entry kept`, !newFstab.split('\n').some((l) => /^\s*[^#\s]\S*\s+\/data\s/.test(l)) && /^LABEL=root \/ ext4/m.test(newFstab), newFstab);
  check(`${name}: the change is journaled in the target`, /Inode:\s*\d+/.test(debugfs(disk, 'stat /var/log/rdrescue.log').out));
  check(`${name}: the runbook report went to the console`, /rdrescue: running runbook/.test(consoleText));

  t = Date.now();
  const next = await normalBoot(`${name} next boot`, env, initrd, disk, base, join(env.work, `${f.name}-${how}-next.log`));
  timings.push([`${name}: next normal boot`, seconds(t)]);
  check(`${name}: the next normal boot gets past the previously failing mount`, next.mountRc === 0, `mount -a exit ${next.mountRc}`);
  if (how === 'baked') check(`${name}: a baked-in runbook runs once, not at every boot`, !/rdrescue: running runbook/.test(next.console));
}


/** The images with the full executable injected, made once per run (the executable injects itself, as a user would run it). */
const injected = new Map<string, string>();
function flavors(env: VmEnv): Flavor[] {
  const list: Flavor[] = [];
  for (const [name, img, compress, breakArg, prompt, gate] of [
    ['dracut', env.images.dracut, 'none', 'rd.break', /switch_root:\/# /, undefined],
    // Fedora's and RHEL's kind: systemd's emergency shell, a bash, after "Press Enter for maintenance".
    ['dracut-systemd', env.images.dracutSystemd, 'none', 'rd.break', /sh-[\d.]+# /, /Press Enter for maintenance[^\n]*\n?/],
    ['initramfs-tools', env.images.initramfsTools, 'zstd', 'break=bottom', /\(initramfs\) /, undefined],
  ] as const) {
    let out = injected.get(name);
    if (!out) {
      const t = Date.now();
      out = join(env.work, `${name}-rdrescue.img`);
      const r = JSON.parse(run(env.sea, ['inject', img, '-o', out, '--compress', compress, '--json'])) as { grewBy: number };
      timings.push([`inject into ${name} (--compress ${compress}): +${(r.grewBy / 1048576).toFixed(1)} MiB`, seconds(t)]);
      injected.set(name, out);
    }
    // the dracut rescue also proves issue 18: a labelled shadow keeps its label through the rescue
    list.push({ name, initrd: out, breakArg, prompt, gate, label: name === 'dracut' ? 'system_u:object_r:shadow_t:s0' : undefined });
  }
  return list;
}

const flavor = (env: VmEnv, name: string) => flavors(env).find((f) => f.name === name)!;

export function scenarios(): Scenario[] {
  return [
    ...['dracut', 'dracut-systemd', 'initramfs-tools'].map((name): Scenario => [`${name} rescue at the prompt`, (env) => rescue(flavor(env, name), env)]),
    // Issue 6: one flavour reads the runbook from a device, the other has it baked in.
    ['dracut unattended (device)', (env) => unattended(flavor(env, 'dracut'), 'device', { ...env, image: env.images.dracut, compress: 'none' })],
    ['initramfs-tools unattended (baked)', (env) => unattended(flavor(env, 'initramfs-tools'), 'baked', { ...env, image: env.images.initramfsTools, compress: 'zstd' })],
  ];
}
