// Real UKIs built here with objcopy on systemd-boot's stub, the installed
// kernel as .linux and real initramfs images (dracut's, and Debian's own) as
// .initrd: reading the UKI must give exactly what reading the image it holds
// gives, and info must show what the stub boots with.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { extractImage } from '../../src/image/extract.js';
import { imageInfo } from '../../src/image/info.js';
import { rdrescue } from '../helpers/cli.js';
import { distributionImage, dracutImage, installedKernel } from '../helpers/real-images.js';
import { archiveOf, microcodeTree, padTo } from '../helpers/sample-tree.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';
import { buildUki, scratch } from '../helpers/uki.js';

const { work, file } = scratch('rdrescue-uki-');
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const kver = installedKernel();
const kernel = `/boot/vmlinuz-${kver}`;
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

// An early-microcode archive (GNU cpio, the path the kernel looks for; the payload is filler: no microcode package here) and a real dracut image after it, as dracut lays them out.
const early = archiveOf(join(work, 'early'), microcodeTree('GenuineIntel', 3000));
const combined = file('combined.img', Buffer.concat([padTo(early, 512), readFileSync(dracutImage('gzip'))]));
const cmdline = 'root=/dev/vda1 ro quiet';
const uki = join(work, 'linux.efi');
buildUki(uki, [
  ['.osrel', '/etc/os-release'],
  ['.cmdline', file('cmdline', cmdline + '\n')],
  ['.uname', file('uname', kver + '\n')],
  ['.linux', kernel],
  ['.initrd', combined],
]);

t.test('ls of the UKI equals ls of the early + main image its .initrd holds', async (t) => {
  const a = rdrescue(['ls', '-l', uki]);
  const b = rdrescue(['ls', '-l', combined]);
  t.equal(a.status, 0, a.stderr);
  t.equal(a.stdout, b.stdout);
  t.match(a.stdout, /kernel\/x86\/microcode\/GenuineIntel\.bin\n/);
  // The oracle for the early part: GNU cpio.
  t.ok(a.stdout.includes(execFileSync('cpio', ['-t', '--quiet'], { input: early }).toString().split('\n')[0]!));
});

t.test('extract of the UKI equals extract of the image', async (t) => {
  await extractImage(uki, join(work, 'x-uki'));
  await extractImage(combined, join(work, 'x-img'));
  t.same(diffSnapshots(snapshot(join(work, 'x-img')), snapshot(join(work, 'x-uki'))), []);
  const merged = rdrescue(['extract', '--merged', uki, join(work, 'm-uki')]);
  t.equal(merged.status, 0, merged.stderr);
  rdrescue(['extract', '--merged', combined, join(work, 'm-img')]);
  t.same(diffSnapshots(snapshot(join(work, 'm-img')), snapshot(join(work, 'm-uki'))), []);
});

t.test('cat and diff read the UKI as its initrd', async (t) => {
  const a = rdrescue(['cat', uki, 'usr/lib/initrd-release', 'kernel/x86/microcode/GenuineIntel.bin']);
  t.equal(a.status, 0, a.stderr);
  t.same(a.stdoutBuf, rdrescue(['cat', combined, 'usr/lib/initrd-release', 'kernel/x86/microcode/GenuineIntel.bin']).stdoutBuf);
  const d = rdrescue(['diff', uki, combined]);
  t.equal(d.status, 0, d.stdout + d.stderr);
  t.equal(d.stdout, '0 added, 0 removed, 0 changed\n', 'diff of the UKI against its own initrd is empty');
  const other = rdrescue(['diff', uki, distributionImage()]);
  t.equal(other.status, 1, 'and a different image differs');
});

t.test('info shows the sections, .cmdline, .uname, PRETTY_NAME and the chain', async (t) => {
  const r = rdrescue(['info', uki]);
  t.equal(r.status, 0, r.stderr);
  const pretty = /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))![1]!;
  t.match(r.stdout, `Command line: ${cmdline}\n`);
  t.match(r.stdout, `Uname:        ${kver}\n`);
  t.match(r.stdout, `OS:           ${pretty}\n`);
  t.match(r.stdout, 'not signed: no certificate table');
  t.match(r.stdout, 'Initrd chain: UKI .initrd\n');
  // objdump is the oracle for the section table.
  const objdump = execFileSync('objdump', ['-h', uki]).toString();
  for (const m of objdump.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/gm)) {
    const [, name, size, , off] = m;
    t.match(r.stdout, new RegExp(`\\n  ${name!.replace('.', '\\.')}\\s+${parseInt(off!, 16)}\\s+${parseInt(size!, 16)}\\s`), `${name} as objdump -h shows it`);
  }
  const info = await imageInfo(uki);
  t.equal(info.container.kind, 'uki');
  t.equal(info.segments.length, 2, 'early microcode + main');
  t.same(info.segments.map((s) => s.source), ['UKI .initrd', 'UKI .initrd']);
  t.equal(info.microcode[0]?.vendor, 'Intel');
  const linux = info.container.uki!.sections.find((s) => s.name === '.linux')!;
  t.equal(linux.size, readFileSync(kernel).length, '.linux is the whole kernel');
  const plain = await imageInfo(combined);
  t.same(
    info.segments.map((s) => [s.entries, s.uncompressedBytes, s.compression]),
    plain.segments.map((s) => [s.entries, s.uncompressedBytes, s.compression]),
  );
  t.same(info.segments.map((s) => s.offset - info.segments[0]!.offset), plain.segments.map((s) => s.offset), 'segment offsets are file offsets inside .initrd');
});

t.test('.ucode goes before .initrd, as the stub hands them to the kernel', async (t) => {
  const u2 = join(work, 'ucode.efi');
  buildUki(u2, [
    ['.uname', join(work, 'uname')],
    ['.linux', kernel],
    ['.initrd', distributionImage()],
    ['.ucode', file('early.cpio', early)],
  ]);
  const expected = file('ucode-then-initrd.img', Buffer.concat([padTo(early, 4), readFileSync(distributionImage())]));
  const a = rdrescue(['ls', u2]);
  t.equal(a.status, 0, a.stderr);
  t.equal(a.stdout, rdrescue(['ls', expected]).stdout);
  const i = rdrescue(['info', u2]);
  t.match(i.stdout, 'Initrd chain: UKI .ucode + UKI .initrd\n');
  t.match(i.stdout, /0\s+\d+\s+\d+\s+none\s+newc\s+\d+\s+\d+\s+UKI \.ucode\n\s+1\s+\d+\s+\d+\s+zstd\s+newc\s+\d+\s+\d+\s+UKI \.initrd\n/);
});

t.test('a signed PE is reported signed (the Debian kernel carries an Authenticode table)', async (t) => {
  const { readPe } = await import('../../src/image/pe.js');
  const pe = readPe(kernel);
  t.ok(pe.certificate, 'certificate table present');
  // sbverify is not installed; the table's own header says what it is: WIN_CERTIFICATE revision 0x0200, type 0x0002 (PKCS#7).
  const cert = readFileSync(kernel).subarray(pe.certificate!.offset, pe.certificate!.offset + 8);
  t.equal(cert.readUInt16LE(4), 0x0200);
  t.equal(cert.readUInt16LE(6), 0x0002);
});

t.test('writing into a UKI is refused with the way forward, and the UKI is left as it was', async (t) => {
  const before = sha(uki);
  for (const args of [
    ['add', uki, '/etc/hostname', '-o', uki],
    ['add', combined, '/etc/hostname', '-o', join(work, 'new.efi')],
    ['inject', uki, '-o', uki],
    ['repack', join(work, 'early'), '-o', join(work, 'out.efi')],
  ]) {
    const r = rdrescue(args);
    t.equal(r.status, 4, args.join(' '));
    t.match(r.stderr, /^rdrescue: .*: refusing to write a UKI: .*Secure Boot signature.*ukify.*addon.*rdrescue extract/);
    t.equal(r.stderr.split('\n').length, 2, 'one line');
  }
  t.equal(sha(uki), before);
});
