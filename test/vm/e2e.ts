// The proof of issue 5: a locked-out VM is rescued from the initramfs shell
// by typing one rdrescue command, on a real kernel, real dracut and
// initramfs-tools images, and a real ext4 disk checked from outside.
// Run: npm run test:vm   (root; about 2 minutes under TCG with a warm cache)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
    await vm.expect(f.prompt, 240_000, `the ${f.name} break prompt`);
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
  const vm2 = new Vm({ name: `${f.name} normal boot`, accel: env.accel, vmlinux: env.vmlinux, initrd: f.initrd, disk, append: base, log: join(env.work, `${f.name}-normal.log`) });
  try {
    await vm2.boot();
    await vm2.expect(/@@INIT-REACHED@@/, 240_000, 'the real /sbin/init');
    const m = await vm2.expect(/@@SHADOW-SHA256=([0-9a-f]{64})@@/, 60_000, 'the shadow hash from init');
    const want = createHash('sha256').update(shadow).digest('hex');
    check(`${f.name}: a normal boot reaches /sbin/init with the new /etc/shadow`, m[1] === want, `init saw ${m[1]}, debugfs read ${want}`);
    await vm2.exit(60_000);
    timings.push([`${f.name}: normal boot to power-off`, seconds(t)]);
  } finally {
    await vm2.kill();
  }
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
  const itools = await cached(`initramfs-tools-${key}.img`, async (tmp) => buildInitramfsTools(kver, tmp));
  timings.push([`build initramfs: initramfs-tools${itools.built ? '' : ' (cached)'}`, seconds(t)]);

  t = Date.now();
  const sea = buildSea();
  timings.push(['build the single executable', seconds(t)]);

  mkdirSync(join(CACHE_DIR, 'runs'), { recursive: true });
  const work = mkdtempSync(join(CACHE_DIR, 'runs', 'e2e-'));
  const flavors: Flavor[] = [];
  for (const [name, img, compress, breakArg, prompt] of [
    ['dracut', dracut.path, 'none', 'rd.break', /switch_root:\/# /],
    ['initramfs-tools', itools.path, 'zstd', 'break=bottom', /\(initramfs\) /],
  ] as const) {
    t = Date.now();
    const out = join(work, `${name}-rdrescue.img`);
    // The executable injects itself, as a user would run it.
    const r = JSON.parse(run(sea, ['inject', img, '-o', out, '--compress', compress, '--json'])) as { grewBy: number; originalBytes: number };
    timings.push([`inject into ${name} (--compress ${compress}): +${(r.grewBy / 1048576).toFixed(1)} MiB`, seconds(t)]);
    flavors.push({ name, initrd: out, breakArg, prompt });
  }

  let ok = true;
  for (const f of flavors) {
    try {
      await rescue(f, { accel, vmlinux, baseDisk: disk.path, work });
    } catch (e) {
      ok = false;
      check(`${f.name}: the scenario ran to the end`, false, (e as Error).message);
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
