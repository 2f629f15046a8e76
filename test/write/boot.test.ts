// The kernel is the final oracle: boot the distribution's initramfs after
// extract -> repack (gzip, our cpio writer) -> add (an uncompressed segment
// appended after a compressed member of odd length), with a probe as rdinit.
import t from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractImage } from '../../src/image/extract.js';
import { addToImage } from '../../src/write/add-files.js';
import { repackImage } from '../../src/write/repack.js';
import { chooseAccel, installedKernel, pvhVmlinux } from '../vm/kernel.js';
import { missingTools } from '../vm/run.js';
import { Vm } from '../vm/vm.js';

const missing = missingTools(['qemu-system-x86_64', 'xz']);
const skip = missing.length ? `needs ${missing.join(', ')} (apt-get install qemu-system-x86 xz-utils)` : false;
const work = mkdtempSync(join(tmpdir(), 'rdrescue-boot-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

t.test('the kernel unpacks a repacked image and the segment add appended, busybox intact', { skip }, async (t) => {
  const { kver, vmlinuz } = installedKernel();
  const tree = join(work, 'tree');
  await extractImage(`/boot/initrd.img-${kver}`, tree);
  const repacked = join(work, 'repacked.img');
  await repackImage(tree, repacked, { compress: 'gzip' });
  rmSync(tree, { recursive: true, force: true });
  const size = statSync(repacked).size;

  // /usr/bin/ls is one of busybox's 267 hard links: a file written through it would replace sh as well.
  const fakeLs = join(work, 'ls');
  writeFileSync(fakeLs, '#!/bin/sh\necho fake-ls\n', { mode: 0o755 });
  const probe = join(work, 'probe');
  writeFileSync(
    probe,
    [
      '#!/bin/sh',
      'mount -t proc proc /proc',
      'echo "@@SH=$(/usr/bin/sh -c \'echo busybox-ok\')@@"',
      'echo "@@LS=$(/usr/bin/ls)@@"',
      'echo "@@MODULES=$(echo /lib/modules/*)@@"',
      'echo o > /proc/sysrq-trigger',
      'sleep 30',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const image = join(work, 'probe.img');
  const rep = await addToImage(repacked, image, { files: [`${probe}:/probe`, `${fakeLs}:/usr/bin/ls`] });
  t.equal(rep.originalBytes, size);
  t.comment(`gzip member of ${size} bytes (${size % 4} past a 4-byte boundary), then ${rep.newBytes - size} bytes appended`);

  const vmlinux = await pvhVmlinux(kver, vmlinuz);
  const { accel } = await chooseAccel(kver, vmlinux);
  const disk = join(work, 'empty.disk');
  writeFileSync(disk, Buffer.alloc(1 << 20));
  const vm = new Vm({ name: 'repack+add boot', accel, vmlinux, initrd: image, disk, append: 'console=ttyS0 rdinit=/probe panic=-1', log: join(work, 'boot.log') });
  try {
    await vm.boot();
    const sh = await vm.expect(/@@SH=([^@]*)@@/, 240_000, 'the probe run as rdinit from the appended segment');
    t.equal(sh[1], 'busybox-ok', 'sh is still busybox: the hard-linked inode was not written through');
    const ls = await vm.expect(/@@LS=([^@]*)@@/, 30_000);
    t.equal(ls[1], 'fake-ls', 'the added ls replaced the busybox link');
    const mods = await vm.expect(/@@MODULES=([^@]*)@@/, 30_000);
    t.equal(mods[1], `/lib/modules/${kver}`, 'the repacked main archive was unpacked');
    await vm.exit(60_000);
    t.notMatch(vm.transcript(), /Initramfs unpacking failed/, 'no unpacking error from the kernel');
  } finally {
    await vm.kill();
  }
});
