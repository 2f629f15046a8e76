// add --unsigned-ok on real UKIs (objcopy on systemd-boot's stub, the
// installed kernel, a real dracut image): the new UKI holds the old initrd
// plus the new segment, objdump reads the new section table, SizeOfImage
// covers the moved .initrd, and what cannot be rewritten is refused. That
// OVMF boots such a UKI is the VM scenario test/vm/scenarios/uki.ts.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readPe } from '../../src/image/pe.js';
import { rdrescue } from '../helpers/cli.js';
import { dracutImage, installedKernel } from '../helpers/real-images.js';
import { buildUki, scratch } from '../helpers/uki.js';

const { work, file } = scratch('rdrescue-uki-write-');
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const kver = installedKernel();
const uki = join(work, 'linux.efi');
buildUki(uki, [
  ['.osrel', '/etc/os-release'],
  ['.cmdline', file('cmdline', 'root=/dev/vda1 ro')],
  ['.uname', file('uname', kver)],
  ['.linux', `/boot/vmlinuz-${kver}`],
  ['.initrd', dracutImage('gzip')],
]);
const added = file('added', 'rescue note\n');

t.test('add --unsigned-ok: the old initrd and the new segment, sections in place', async (t) => {
  const out = join(work, 'new.efi');
  const r = rdrescue(['add', uki, `${added}:/etc/rescue-note`, '-o', out, '--unsigned-ok']);
  t.equal(r.status, 0, r.stderr);
  t.equal(rdrescue(['ls', out]).stdout, rdrescue(['ls', uki]).stdout + 'etc/rescue-note\n');
  t.equal(rdrescue(['cat', out, 'etc/rescue-note']).stdout, 'rescue note\n');
  const d = rdrescue(['diff', uki, out]);
  t.equal(d.status, 1);
  t.match(d.stdout, 'etc/rescue-note');
  const before = readPe(uki);
  const after = readPe(out);
  const oldBytes = readFileSync(uki);
  const newBytes = readFileSync(out);
  for (const s of before.sections.filter((x) => x.name !== '.initrd')) {
    const n = after.sections[s.index]!;
    t.same([n.name, n.virtualAddress, n.virtualSize], [s.name, s.virtualAddress, s.virtualSize], `${s.name} keeps its address`);
    t.ok(newBytes.subarray(n.rawOffset, n.rawOffset + n.fileSize).equals(oldBytes.subarray(s.rawOffset, s.rawOffset + s.fileSize)), `${s.name} keeps its bytes`);
  }
  const initrd = after.sections.find((s) => s.name === '.initrd')!;
  t.ok(after.sizeOfImage >= initrd.virtualAddress + initrd.virtualSize, 'SizeOfImage covers the new .initrd');
  t.equal(after.sizeOfImage % after.sectionAlignment, 0);
  // objdump is the oracle for the header: it must read the same table and SizeOfImage.
  const p = execFileSync('objdump', ['-p', out]).toString();
  t.equal(parseInt(/SizeOfImage\s+([0-9a-f]+)/.exec(p)![1]!, 16), after.sizeOfImage);
  const h = execFileSync('objdump', ['-h', out]).toString();
  t.match(h, new RegExp(`\\.initrd\\s+[0-9a-f]+\\s+0*${initrd.virtualAddress.toString(16)}\\s+[0-9a-f]+\\s+0*${initrd.rawOffset.toString(16)}\\s`));
});

t.test('a signed UKI loses its certificate table, and says so', async (t) => {
  // No signing tool here: a certificate table appended by hand is what Authenticode leaves in the header.
  const b = Buffer.from(readFileSync(uki));
  const pe = readPe(uki);
  const cert = Buffer.alloc(16);
  cert.writeUInt32LE(16, 0);
  cert.writeUInt16LE(0x0200, 4);
  cert.writeUInt16LE(0x0002, 6);
  b.writeUInt32LE(b.length, pe.layout.dirsAt + 32);
  b.writeUInt32LE(cert.length, pe.layout.dirsAt + 36);
  const signed = file('signed.efi', Buffer.concat([b, cert]));
  t.ok(readPe(signed).certificate);
  t.match(rdrescue(['info', signed]).stdout, /signed: an Authenticode certificate table is present, not verified/);
  const out = join(work, 'unsigned.efi');
  const r = rdrescue(['add', signed, `${added}:/etc/rescue-note`, '-o', out, '--unsigned-ok']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /warning: its Authenticode signature was dropped/);
  t.equal(readPe(out).certificate, undefined);
});

t.test('what --unsigned-ok still refuses', async (t) => {
  const multi = join(work, 'multi.efi');
  buildUki(multi, [['.linux', `/boot/vmlinuz-${kver}`], ['.initrd', dracutImage('gzip')], ['.profile', file('p', 'ID=a')], ['.cmdline', file('c', 'quiet')]]);
  const m = rdrescue(['add', multi, added, '-o', join(work, 'x.efi'), '--unsigned-ok']);
  t.equal(m.status, 4);
  t.match(m.stderr, /multi\.efi: --unsigned-ok writes UKIs without profiles only/);
  const k = rdrescue(['add', `/boot/vmlinuz-${kver}`, added, '-o', join(work, 'k.img'), '--unsigned-ok']);
  t.equal(k.status, 4);
  t.match(k.stderr, /refusing to write into a kernel image/);
  const plain = rdrescue(['add', dracutImage('gzip'), added, '-o', join(work, 'p.efi'), '--unsigned-ok']);
  t.equal(plain.status, 4, 'an initramfs written to a .efi name is still refused');
});
