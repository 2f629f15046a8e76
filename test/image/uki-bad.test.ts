// Damaged and impostor files: each gives one line naming the file, the
// offset and the cause, a non-zero exit and no stack trace.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { defaultImage } from '../../src/image/default-image.js';
import { rdrescue } from '../helpers/cli.js';
import { installedKernel } from '../helpers/real-images.js';
import { archiveOf, makeSampleTree } from '../helpers/sample-tree.js';
import { buildUki, scratch, STUB } from '../helpers/uki.js';

const { work, file } = scratch('rdrescue-uki-bad-');
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const kernel = `/boot/vmlinuz-${installedKernel()}`;
const initrd = file('initrd.cpio', archiveOf(join(work, 'tree'), makeSampleTree));
const good = join(work, 'good.efi');
buildUki(good, [
  ['.uname', file('uname', installedKernel())],
  ['.linux', kernel],
  ['.initrd', initrd],
]);
const bytes = readFileSync(good);

/** The section table entry (40 bytes) of the section named `name`. */
function entry(b: Buffer, name: string): number {
  const pe = b.readUInt32LE(0x3c);
  const table = pe + 24 + b.readUInt16LE(pe + 20);
  for (let i = 0; i < b.readUInt16LE(pe + 6); i++) {
    const o = table + i * 40;
    if (b.toString('latin1', o, o + 8).replace(/\0+$/, '') === name) return o;
  }
  throw new Error(`no ${name}`);
}
const patched = (name: string, f: (b: Buffer) => void) => {
  const b = Buffer.from(bytes);
  f(b);
  return file(name, b);
};

const cases: Array<[label: string, path: () => string, message: RegExp]> = [
  ['a PE with no .initrd', () => {
    const p = join(work, 'no-initrd.efi');
    buildUki(p, [['.cmdline', file('c', 'quiet')], ['.linux', kernel]]);
    return p;
  }, /no-initrd\.efi: a UKI without an \.initrd section: it boots with no initramfs of its own$/],
  ['a truncated UKI', () => file('truncated.efi', bytes.subarray(0, bytes.readUInt32LE(entry(bytes, '.initrd') + 20) + 1000)), /truncated\.efi: offset \d+: section \.initrd \(\d+ bytes at offset \d+\) ends past the end of the file \(\d+ bytes\): truncated file or a section table pointing past it$/],
  ['a UKI cut inside its headers', () => file('headers.efi', bytes.subarray(0, 200)), /headers\.efi: offset \d+: truncated PE file: the optional header \(240 bytes at offset \d+\) ends past the end of the file \(200 bytes\)$/],
  ['a section table pointing past EOF', () => patched('past-eof.efi', (b) => b.writeUInt32LE(bytes.length + 4096, entry(b, '.initrd') + 20)), /past-eof\.efi: offset \d+: section \.initrd \(\d+ bytes at offset \d+\) ends past the end of the file/],
  ['overlapping sections', () => patched('overlap.efi', (b) => b.writeUInt32LE(b.readUInt32LE(entry(b, '.linux') + 20) + 4096, entry(b, '.initrd') + 20)), /overlap\.efi: offset \d+: sections \.linux \(bytes \d+-\d+\) and \.initrd \(bytes \d+-\d+\) overlap$/],
  ['a bzImage without a built-in initramfs', () => kernel, /vmlinuz-.*: a kernel image without a built-in initramfs \(kernel .*: only the kernel's default \/dev, \/dev\/console and \/root; give its initramfs file instead\)$/],
  ['a random file starting with MZ', () => file('random.efi', Buffer.concat([Buffer.from('MZ'), randomBytes(4094)])), /random\.efi: offset (60|\d+): starts with "MZ" but (its PE header offset \d+ lies outside the file \(4096 bytes\)|has no "PE\\0\\0" signature at offset \d+): not an EFI program$/],
  ['an MZ file whose PE header offset is inside the file but holds no PE signature', () => {
    const b = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(4094, 0x41)]);
    b.writeUInt32LE(128, 0x3c);
    return file('dos.exe', b);
  }, /dos\.exe: offset 128: starts with "MZ" but has no "PE\\0\\0" signature at offset 128: not an EFI program$/],
  ['an EFI program that is neither a UKI nor a kernel', () => STUB, /linuxx64\.efi\.stub: an EFI program, but neither a UKI \(no \.linux, \.initrd or \.ucode section\) nor a Linux kernel$/],
];

for (const [label, make, message] of cases) {
  t.test(label, async (t) => {
    const p = make();
    for (const cmd of ['ls', 'info']) {
      const r = rdrescue([cmd, p]);
      t.equal(r.status, 3, `${cmd}: exit 3 (bad input)`);
      t.equal(r.stdout, '');
      const lines = r.stderr.split('\n').filter(Boolean);
      t.equal(lines.length, 1, `${cmd}: one line: ${r.stderr}`);
      t.match(lines[0], /^rdrescue: /);
      t.match(lines[0], message);
      t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
}

t.test('the default image search finds the running kernel\'s UKI by its .uname', async (t) => {
  const esp = join(work, 'esp', 'EFI', 'Linux');
  mkdirSync(esp, { recursive: true });
  buildUki(join(esp, 'a-other.efi'), [['.uname', file('u-other', '1.2.3-other')], ['.linux', kernel], ['.initrd', initrd]]);
  buildUki(join(esp, 'b-running.efi'), [['.uname', file('u-running', `${release()}\n`)], ['.linux', kernel], ['.initrd', initrd]]);
  file('esp/EFI/Linux/c-junk.efi', Buffer.from('MZ not a PE'));
  const emptyBoot = join(work, 'boot');
  mkdirSync(emptyBoot);
  t.same(defaultImage(emptyBoot, ['/nonexistent', esp]), { path: join(esp, 'b-running.efi') });
  t.throws(() => defaultImage(emptyBoot, [join(work, 'none')]), { message: /no initramfs found for the running kernel .*\/none\/\*\.efi/ });
});
