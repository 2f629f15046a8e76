// The proof of issue 5: a locked-out VM is rescued from the initramfs shell
// by typing one rdrescue command, on a real kernel, real dracut and
// initramfs-tools images, and a real ext4 disk checked from outside.
// Run: npm run test:vm   (root; about 2 minutes under TCG with a warm cache)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, cacheKey, cached, pruneStale } from './cache.js';
import { baseDisk, copyDisk, OLD_ROOT_PASSWORD, shadow as shadowLines } from './disk.js';
import { buildDracut, buildInitramfsTools } from './initramfs.js';
import { chooseAccel, installedKernel, pvhVmlinux, type Accel } from './kernel.js';
import { missingTools, run, seconds } from './run.js';
import { buildSea } from './sea.js';
import { Vm } from './vm.js';

const NEW_ROOT_PASSWORD = 'n3w-Rescued pw';
const TOOLS = ['qemu-system-x86_64', 'dracut', 'mkinitramfs', 'mkfs.ext4', 'debugfs', 'e2fsck', 'mkpasswd', 'perl', 'xz', 'busybox', 'strip'];

let passed = 0;
let failed = 0;
const timings: Array<[string, string]> = [];

function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok' : 'not ok'} - ${name}${!ok && detail ? `\n    ${detail.replace(/\n/g, '\n    ')}` : ''}`);
}

function skip(why: string): never {
  const allowed = process.env.RDRESCUE_ALLOW_VM_SKIP === '1';
  console.log(`SKIP: the VM test did not run: ${why}${allowed ? ' (allowed by RDRESCUE_ALLOW_VM_SKIP=1)' : ' (set RDRESCUE_ALLOW_VM_SKIP=1 to accept this)'}`);
  process.exit(allowed ? 0 : 1);
}

/** The system's own crypt (libxcrypt through perl): the oracle for "the password works". */
function cryptVerifies(password: string, hash: string): boolean {
  return spawnSync('perl', ['-e', 'exit(crypt($ARGV[0], $ARGV[1]) eq $ARGV[1] ? 0 : 1)', password, hash]).status === 0;
}

function debugfs(disk: string, request: string): { out: string; err: string } {
  const r = spawnSync('debugfs', ['-R', request, disk], { encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr };
}

interface Flavor {
  name: string;
  initrd: string;
  breakArg: string;
  prompt: RegExp;
  /** What stands before the shell (systemd's sulogin): Enter is pressed until the prompt comes. */
  gate?: RegExp;
}

async function rescue(f: Flavor, env: { accel: Accel; vmlinux: string; baseDisk: string; work: string }): Promise<void> {
  const disk = join(env.work, `${f.name}-disk.img`);
  copyDisk(env.baseDisk, disk);
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
  check(`${f.name}: /.autorelabel exists (SELinux is enforcing on the target)`, /Inode:\s*\d+/.test(relabel.out), relabel.err);

  // 3. A normal boot reaches the real init, which sees the new shadow.
  t = Date.now();
  const next = await normalBoot(`${f.name} normal boot`, env, f.initrd, disk, base, join(env.work, `${f.name}-normal.log`));
  const want = createHash('sha256').update(shadow).digest('hex');
  check(`${f.name}: a normal boot reaches /sbin/init with the new /etc/shadow`, next.shadowSha === want, `init saw ${next.shadowSha}, debugfs read ${want}`);
  timings.push([`${f.name}: normal boot to power-off`, seconds(t)]);
}

/** The next normal boot's init: it must get past the mount that used to fail, and see this shadow. */
async function normalBoot(name: string, env: { accel: Accel; vmlinux: string; work: string }, initrd: string, disk: string, append: string, log: string): Promise<{ mountRc: number; shadowSha: string; console: string }> {
  const vm = new Vm({ name, accel: env.accel, vmlinux: env.vmlinux, initrd, disk, append, log });
  try {
    await vm.boot();
    await vm.expect(/@@INIT-REACHED@@/, 240_000, 'the real /sbin/init');
    const sha = await vm.expect(/@@SHADOW-SHA256=([0-9a-f]{64})@@/, 60_000, 'the shadow hash from init');
    const rc = await vm.expect(/@@MOUNT-A-RC=(\d+)@@/, 60_000, 'mount -a in init');
    await vm.exit(60_000);
    return { mountRc: Number(rc[1]), shadowSha: sha[1], console: vm.transcript() };
  } finally {
    await vm.kill();
  }
}

/**
 * Issue 6, unattended: a server whose console nobody types into. Its fstab
 * names a missing disk and its root password is lost; a runbook fixes both
 * at boot, from a rescue disk named on the kernel command line (device) or
 * baked into the image by `inject --runbook` (baked, which must run once).
 */
async function unattended(f: Flavor, how: 'device' | 'baked', env: { accel: Accel; vmlinux: string; baseDisk: string; work: string; sea: string; image: string; compress: string }): Promise<void> {
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

async function main(): Promise<void> {
  const start = Date.now();
  if (process.getuid?.() !== 0) skip('needs root (mkfs -d ownership, dracut, mkinitramfs, chroot)');
  const missing = missingTools(TOOLS);
  if (missing.length) skip(`missing host tools: ${missing.join(', ')}`);
  const { kver, vmlinuz } = installedKernel();
  const key = cacheKey(kver);
  console.log(`kernel ${kver}; cache ${CACHE_DIR} (key ${key})`);
  pruneStale(key);

  let t = Date.now();
  const vmlinux = await pvhVmlinux(kver, vmlinuz);
  const { accel, why } = await chooseAccel(kver, vmlinux);
  console.log(`accelerator: ${accel} (${why})`);
  timings.push(['vmlinux + accelerator probe', seconds(t)]);

  t = Date.now();
  const disk = await baseDisk(key);
  timings.push([`build disk${disk.built ? '' : ' (cached)'}`, seconds(t)]);
  t = Date.now();
  const dracut = await cached(`dracut-${key}.img`, async (tmp) => buildDracut(kver, tmp));
  timings.push([`build initramfs: dracut${dracut.built ? '' : ' (cached)'}`, seconds(t)]);
  t = Date.now();
  const dracutSystemd = await cached(`dracut-systemd-${key}.img`, async (tmp) => buildDracut(kver, tmp, { systemd: true }));
  timings.push([`build initramfs: dracut with systemd${dracutSystemd.built ? '' : ' (cached)'}`, seconds(t)]);
  t = Date.now();
  const itools = await cached(`initramfs-tools-${key}.img`, async (tmp) => buildInitramfsTools(kver, tmp));
  timings.push([`build initramfs: initramfs-tools${itools.built ? '' : ' (cached)'}`, seconds(t)]);

  mkdirSync(join(CACHE_DIR, 'runs'), { recursive: true });
  const work = mkdtempSync(join(CACHE_DIR, 'runs', 'e2e-'));
  t = Date.now();
  // A private copy: other runs may rebuild dist/rdrescue while this one injects it.
  const sea = join(work, 'rdrescue');
  copyFileSync(buildSea(), sea);
  chmodSync(sea, 0o755);
  timings.push(['build the single executable', seconds(t)]);
  const flavors: Flavor[] = [];
  for (const [name, img, compress, breakArg, prompt, gate] of [
    ['dracut', dracut.path, 'none', 'rd.break', /switch_root:\/# /, undefined],
    // Fedora's and RHEL's kind: systemd's emergency shell, a bash, after "Press Enter for maintenance".
    ['dracut-systemd', dracutSystemd.path, 'none', 'rd.break', /sh-[\d.]+# /, /Press Enter for maintenance[^\n]*\n?/],
    ['initramfs-tools', itools.path, 'zstd', 'break=bottom', /\(initramfs\) /, undefined],
  ] as const) {
    t = Date.now();
    const out = join(work, `${name}-rdrescue.img`);
    // The executable injects itself, as a user would run it.
    const r = JSON.parse(run(sea, ['inject', img, '-o', out, '--compress', compress, '--json'])) as { grewBy: number; originalBytes: number };
    timings.push([`inject into ${name} (--compress ${compress}): +${(r.grewBy / 1048576).toFixed(1)} MiB`, seconds(t)]);
    flavors.push({ name, initrd: out, breakArg, prompt, gate });
  }

  const flavor = (name: string) => flavors.find((f) => f.name === name)!;
  let ok = true;
  const scenarios: Array<[string, () => Promise<void>]> = [];
  for (const f of flavors) scenarios.push([`${f.name} rescue at the prompt`, () => rescue(f, { accel, vmlinux, baseDisk: disk.path, work })]);
  // Issue 6: one flavour reads the runbook from a device, the other has it baked in.
  scenarios.push(['dracut unattended (device)', () => unattended(flavor('dracut'), 'device', { accel, vmlinux, baseDisk: disk.path, work, sea, image: dracut.path, compress: 'none' })]);
  scenarios.push(['initramfs-tools unattended (baked)', () => unattended(flavor('initramfs-tools'), 'baked', { accel, vmlinux, baseDisk: disk.path, work, sea, image: itools.path, compress: 'zstd' })]);
  // RDRESCUE_VM_ONLY=text runs only the scenarios whose name contains it (for working on one).
  const only = process.env.RDRESCUE_VM_ONLY;
  for (const [name, fn] of scenarios) {
    if (only && !name.includes(only)) {
      console.log(`# not run (RDRESCUE_VM_ONLY=${only}): ${name}`);
      continue;
    }
    try {
      await fn();
    } catch (e) {
      ok = false;
      check(`${name}: the scenario ran to the end`, false, (e as Error).message);
    }
  }
  timings.push(['total', seconds(start)]);
  console.log('\ntimings:');
  for (const [what, s] of timings) console.log(`  ${what.padEnd(58)} ${s}`);
  if (ok && failed === 0) rmSync(work, { recursive: true, force: true });
  else console.log(`console logs and disks kept in ${work}`);
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

main().catch((e: Error) => {
  console.log(`not ok - the VM test could not run: ${e.message}`);
  console.log(`\n${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
