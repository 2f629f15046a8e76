// The VM end-to-end test: real kernels, real dracut and initramfs-tools
// images, real disks checked from outside. This file prepares what all
// scenarios share, then runs the scenarios of test/vm/scenarios/.
// Run: npm run test:vm   (root; RDRESCUE_VM_ONLY=text runs the scenarios whose name contains it)
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, cacheKey, cached, pruneStale } from './cache.js';
import { baseDisk } from './disk.js';
import { check, tally, timings, type Scenario, type VmEnv } from './harness.js';
import { buildDracut, buildInitramfsTools } from './initramfs.js';
import { chooseAccel, installedKernel, pvhVmlinux } from './kernel.js';
import { missingTools, seconds } from './run.js';
import { scenarios as promptScenarios } from './scenarios/prompt.js';
import { scenarios as rescueHostScenarios } from './scenarios/rescue-host.js';
import { scenarios as ukiScenarios } from './scenarios/uki.js';
import { scenarios as kernelCpioScenarios } from './scenarios/kernel-cpio.js';
import { buildSea } from './sea.js';

const TOOLS = ['qemu-system-x86_64', 'dracut', 'mkinitramfs', 'mkfs.ext4', 'debugfs', 'e2fsck', 'mkpasswd', 'perl', 'xz', 'busybox', 'strip'];

function skip(why: string): never {
  const allowed = process.env.RDRESCUE_ALLOW_VM_SKIP === '1';
  console.log(`SKIP: the VM test did not run: ${why}${allowed ? ' (allowed by RDRESCUE_ALLOW_VM_SKIP=1)' : ' (set RDRESCUE_ALLOW_VM_SKIP=1 to accept this)'}`);
  process.exit(allowed ? 0 : 1);
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
  const env: VmEnv = { accel, kver, key, vmlinux, baseDisk: disk.path, work, sea, images: { dracut: dracut.path, dracutSystemd: dracutSystemd.path, initramfsTools: itools.path } };

  // Each scenario file adds its own; list them here in the order they run.
  const scenarios: Scenario[] = [...promptScenarios(), ...rescueHostScenarios(), ...ukiScenarios(), ...kernelCpioScenarios()];
  const only = process.env.RDRESCUE_VM_ONLY;
  let ok = true;
  for (const [name, fn] of scenarios) {
    if (only && !name.includes(only)) {
      console.log(`# not run (RDRESCUE_VM_ONLY=${only}): ${name}`);
      continue;
    }
    try {
      await fn(env);
    } catch (e) {
      ok = false;
      check(`${name}: the scenario ran to the end`, false, (e as Error).message);
    }
  }
  timings.push(['total', seconds(start)]);
  console.log('\ntimings:');
  for (const [what, s] of timings) console.log(`  ${what.padEnd(58)} ${s}`);
  const { passed, failed } = tally();
  if (ok && failed === 0) rmSync(work, { recursive: true, force: true });
  else console.log(`console logs and disks kept in ${work}`);
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

main().catch((e: Error) => {
  const { passed, failed } = tally();
  console.log(`not ok - the VM test could not run: ${e.message}`);
  console.log(`\n${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
