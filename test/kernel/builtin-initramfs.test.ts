// A kernel with a built-in initramfs (CONFIG_INITRAMFS_SOURCE). Building a
// real kernel is out of reach here, so two honest substitutes:
// 1. the linker's part: usr/initramfs_data.S and the INIT_RAM_FS layout
//    rebuilt with `as` and `ld`, giving an ELF with symbols, the same ELF
//    stripped as a bzImage's vmlinux is (objcopy -S), and the unlinked object;
// 2. the installed kernel's own vmlinux with a GNU cpio archive written into
//    its built-in initramfs slot (the 512 bytes its size field gives), then
//    recompressed and pointed at by the installed kernel's own setup header.
//    Not bootable (the payload is gzip, the kernel's decompressor expects
//    xz, and the signature no longer matches): it proves the reader's walk
//    from setup header to payload to vmlinux to archive, not a boot.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bzImageVmlinux, parseBzImageHeader } from '../../src/kernel/bzimage.js';
import { locateBuiltinInitramfs } from '../../src/kernel/vmlinux.js';
import { rdrescue } from '../helpers/cli.js';
import { installedKernel } from '../helpers/real-images.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-builtin-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const kernel = `/boot/vmlinuz-${installedKernel()}`;
const p = (n: string) => join(work, n);

// A real newc archive by GNU cpio: /init, a shell script.
mkdirSync(p('tree'));
writeFileSync(p('tree/init'), '#!/bin/sh\necho built-in initramfs\n', { mode: 0o755 });
const cpio = execFileSync('sh', ['-c', 'cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet', 'sh', p('tree')]);
const listing = execFileSync('cpio', ['-t', '--quiet'], { input: cpio }).toString();
writeFileSync(p('cpio.bin'), cpio);

t.test('the INIT_RAM_FS layout built by as and ld', async (t) => {
  writeFileSync(
    p('initramfs_data.S'),
    `.section .init.ramfs,"a"\n__irf_start:\n.incbin "${p('cpio.bin')}"\n__irf_end:\n.section .init.ramfs.info,"a"\n.globl __initramfs_size\n__initramfs_size:\n.quad __irf_end - __irf_start\n` +
      `.section .init.setup,"a"\n.ascii "other init data before the archive"\n`,
  );
  writeFileSync(
    p('vmlinux.lds'),
    `SECTIONS {\n . = 0xffffffff83000000;\n .init.data : {\n  *(.init.setup)\n  . = ALIGN(4);\n  __initramfs_start = .;\n  KEEP(*(.init.ramfs))\n  . = ALIGN(8);\n  KEEP(*(.init.ramfs.info))\n }\n}\n`,
  );
  execFileSync('as', ['-o', p('initramfs_data.o'), p('initramfs_data.S')]);
  execFileSync('ld', ['-o', p('vmlinux'), '-T', p('vmlinux.lds'), p('initramfs_data.o')]);
  execFileSync('objcopy', ['-S', p('vmlinux'), p('vmlinux.stripped')]);
  const cases: Array<[string, string]> = [
    ['initramfs_data.o', 'section .init.ramfs'],
    ['vmlinux', 'symbols __initramfs_start/__initramfs_size'],
    ['vmlinux.stripped', 'end of .init.data'],
  ];
  for (const [name, how] of cases) {
    const bytes = readFileSync(p(name));
    const at = locateBuiltinInitramfs(bytes, name);
    t.equal(at?.found, how, `${name}: found by ${how}`);
    t.same(bytes.subarray(at!.offset, at!.offset + at!.length), cpio, `${name}: the archive's bytes`);
  }
  // nm is the oracle for where the linker put it.
  const nm = execFileSync('nm', [p('vmlinux')]).toString();
  t.match(nm, /ffffffff83000024 [A-Za-z] __initramfs_start/, '4-aligned after the 34 bytes of other init data');
});

t.test('the installed kernel with an archive in its built-in slot: ls, cat, extract, info', async (t) => {
  const original = readFileSync(kernel);
  const h = parseBzImageHeader(original, kernel);
  const vmlinux = await bzImageVmlinux(kernel);
  const slot = locateBuiltinInitramfs(vmlinux, kernel)!;
  t.equal(slot.length, 512, "Debian's default built-in archive: 512 bytes");
  t.ok(cpio.length <= slot.length);
  cpio.copy(vmlinux, slot.offset);
  vmlinux.fill(0, slot.offset + cpio.length, slot.offset + slot.length);
  const payload = execFileSync('gzip', ['-1', '-n', '-c'], { input: vmlinux, maxBuffer: 1 << 30 });
  const image = Buffer.concat([original, payload]);
  image.writeUInt32LE(original.length - h.kernelOffset, 0x248);
  image.writeUInt32LE(payload.length, 0x24c);
  writeFileSync(p('vmlinuz-builtin'), image);

  const ls = rdrescue(['ls', p('vmlinuz-builtin')]);
  t.equal(ls.status, 0, ls.stderr);
  t.equal(ls.stdout, listing, 'ls equals cpio -t of the archive');
  t.equal(rdrescue(['cat', p('vmlinuz-builtin'), 'init']).stdout, '#!/bin/sh\necho built-in initramfs\n');
  const x = rdrescue(['extract', p('vmlinuz-builtin'), p('out')]);
  t.equal(x.status, 0, x.stderr);
  t.equal(readFileSync(p('out/init'), 'utf8'), '#!/bin/sh\necho built-in initramfs\n');
  const info = rdrescue(['info', p('vmlinuz-builtin')]);
  t.equal(info.status, 0, info.stderr);
  t.match(info.stdout, `Kernel image: ${p('vmlinuz-builtin')} (${h.version}; boot protocol ${h.protocol}; gzip payload)\n`);
  t.match(info.stdout, `Built in:     built-in initramfs (512 bytes at offset ${slot.offset} of the decompressed kernel)\n`);
  const untouched = rdrescue(['ls', kernel]);
  t.equal(untouched.status, 3);
  t.match(untouched.stderr, /a kernel image without a built-in initramfs/);
});
