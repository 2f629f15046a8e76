import type { Command } from 'commander';
import { EXIT, RdError } from '../errors.js';
import { DamageLog } from '../image/damage.js';
import { imageInfo, type ImageInfo } from '../image/info.js';
import { intOption, printJson, warnLine } from './common.js';
import { ADDONS_HELP, PROFILE_HELP, ukiFlags, withImageOrExample } from './image-arg.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('info')
    .description('show the segments of an image and what it is: kernel version, generator, microcode, biggest directories, modules; warns about what the kernel would refuse (an xz check other than CRC32 or none)')
    .argument('[image]', "initramfs image, UKI or kernel with a built-in initramfs (default: the running kernel's, else the newest in /boot, else an example image)")
    .option('--json', 'print the report as JSON')
    .option('--strict', 'stop at the first damage (a bad crc checksum) instead of warning and reading on')
    .option('--profile <n>', PROFILE_HELP)
    .option('--addons <dir>', ADDONS_HELP)
    .option('--no-native', 'use only the built-in decoders')
    .option('--verify', 'check the data of every file in crc archives, also of files this command skips unread')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string | undefined, o: { json?: boolean; strict?: boolean; native: boolean; verify?: boolean; maxOutput?: string; profile?: string; addons?: string }) => {
      const damage = new DamageLog(warnLine);
      const opts = { ...ukiFlags(o), native: o.native, verify: o.verify, strict: o.strict, onDamage: damage.note, partial: true, maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined };
      const { result: info, example } = await withImageOrExample(image, (path) => imageInfo(path, opts));
      if (example) info.file = EXAMPLE_FILE;
      if (o.json) printJson(info);
      else process.stdout.write(formatInfo(info));
      // The report shows how far each segment could be read; the exit still says the image is damaged.
      if (info.stopped) throw new RdError(info.stopped, {}, EXIT.badInput);
      damage.check(info.file);
    });
  examples(cmd, [
    ['rdrescue info', 'the running kernel\'s initramfs (else the newest in /boot, else an example image)'],
    ['rdrescue info --json /boot/initrd.img-6.1.0-18-amd64', 'kernel version, generator, microcode, segments, biggest directories, modules, as JSON'],
    ['rdrescue info --profile 1 /boot/efi/EFI/Linux/linux.efi', 'a UKI: its sections, profiles, .cmdline, .uname, addons, then the initrd chain profile 1 boots'],
  ]);
}

/** What the report names as its image when it shows the example (its temporary copy is gone by then). */
const EXAMPLE_FILE = '(example image shipped with rdrescue)';

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** What a UKI boots with: its sections, profiles and addons, before the report of the initrd chain. */
function ukiLines(i: ImageInfo): string[] {
  const u = i.container.uki;
  if (!u) return [];
  const lines: string[] = [];
  lines.push(`UKI:          ${i.file} (${u.signed ? 'signed: an Authenticode certificate table is present, not verified' : 'not signed: no certificate table'})`);
  lines.push(`Uname:        ${u.uname ?? 'none (no .uname section)'}`);
  lines.push(`OS:           ${u.prettyName ?? 'unknown (no .osrel section)'}`);
  lines.push(`Command line: ${u.cmdline ?? 'none (no .cmdline section)'}`);
  if (u.profiles.length) {
    lines.push(`Profile:      ${u.profile}${u.profile === 0 ? ' (the default)' : ''} of ${u.profiles.length}`);
    for (const p of u.profiles) lines.push(`  profile ${p.index}: ${p.text.replace(/\n/g, ' ') || '(empty .profile)'}`);
  }
  lines.push('Sections:');
  const rows = [['name', 'offset', 'size', 'address']];
  for (const s of u.sections) rows.push([s.name, String(s.offset), String(s.size), `0x${s.virtualAddress.toString(16)}`]);
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) lines.push('  ' + r.map((v, c) => (c === 0 ? v.padEnd(w[c]!) : v.padStart(w[c]!))).join('  '));
  if (u.addons.length) {
    lines.push('Addons:');
    for (const a of u.addons) lines.push(`  ${a.file}: ${a.sections.join(' ')}${a.skipped ? ` (not loaded: ${a.skipped})` : ''}`);
  }
  lines.push(`Initrd chain: ${i.container.parts.map((p) => p.label).join(' + ')}`);
  lines.push('');
  return lines;
}

export function formatInfo(i: ImageInfo): string {
  const lines: string[] = ukiLines(i);
  const k = i.container.kernel;
  if (k) lines.push(`Kernel image: ${i.file} (${k.version ?? 'no version string'}; boot protocol ${k.protocol}; ${k.payloadCompression} payload)`, `Built in:     ${i.container.parts[0]?.label}`, '');
  const total = i.segments.reduce((a, s) => a + s.uncompressedBytes, 0);
  lines.push(`Image:        ${i.file}`);
  lines.push(`Size:         ${i.size} bytes (${mib(i.size)}), ${mib(total)} of cpio data, ${i.entries} entries`);
  lines.push(`Kernel:       ${i.kernelVersions.join(', ') || 'unknown (no lib/modules/*)'}`);
  lines.push(`Generator:    ${i.generator ? i.generator.name + (i.generator.version ? ' ' + i.generator.version : '') : 'unknown'}`);
  lines.push(`Microcode:    ${i.microcode.length ? i.microcode.map((m) => `${m.vendor} (segment ${m.segment}, ${m.size} bytes)`).join(', ') : 'none'}`);
  for (const w of i.warnings) lines.push(`Warning:      ${w.message}`);
  lines.push('');
  lines.push('Segments:');
  const from = i.segments.some((s) => s.source);
  const rows = [['#', 'offset', 'stored', 'compression', 'format', 'entries', 'uncompressed', ...(from ? ['from'] : [])]];
  for (const s of i.segments) {
    rows.push([String(s.index), String(s.offset), String(s.storedBytes), s.compression, s.format ?? '-', String(s.entries), String(s.uncompressedBytes), ...(from ? [s.source ?? ''] : [])]);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) lines.push('  ' + r.map((v, c) => (c === 3 || c === 4 || c === 7 ? v.padEnd(w[c]) : v.padStart(w[c]))).join('  ').trimEnd());
  for (const s of i.segments) {
    if (s.damage) lines.push(`  segment ${s.index} read up to byte ${s.damage.cpioBytes} of its cpio data (${s.entries} entries), then: ${s.damage.message}`);
  }
  if (i.stopped && !i.segments.some((s) => s.damage)) lines.push(`  reading stopped: ${i.stopped}`);
  lines.push('');
  lines.push('Largest directories (files directly inside):');
  for (const d of i.largestDirectories) lines.push(`  ${mib(d.bytes).padStart(10)}  ${d.path}`);
  lines.push('');
  lines.push(`Kernel modules (${i.modules.length}):`);
  if (i.modules.length) lines.push(...wrap(i.modules, 100));
  if (i.dracutModules) {
    lines.push('', `dracut modules (${i.dracutModules.length}):`, ...wrap(i.dracutModules, 100));
  }
  if (i.bootScripts) lines.push('', `initramfs-tools boot scripts (${i.bootScripts.length}):`, ...wrap(i.bootScripts, 100));
  if (i.mkinitcpioHooks) lines.push('', `mkinitcpio hooks (${i.mkinitcpioHooks.length}):`, ...wrap(i.mkinitcpioHooks, 100));
  return lines.join('\n') + '\n';
}

function wrap(words: string[], width: number): string[] {
  const out: string[] = [];
  let line = ' ';
  for (const w of words) {
    if (line.length + w.length + 1 > width && line.trim()) {
      out.push(line);
      line = ' ';
    }
    line += ' ' + w;
  }
  if (line.trim()) out.push(line);
  return out;
}
