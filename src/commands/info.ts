import type { Command } from 'commander';
import { EXIT, RdError } from '../errors.js';
import { DamageLog } from '../image/damage.js';
import { imageInfo, type ImageInfo } from '../image/info.js';
import { intOption, printJson, warnLine } from './common.js';
import { resolveImage } from './image-arg.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('show the segments of an image and what it is: kernel version, generator, microcode, biggest directories, modules; warns about what the kernel would refuse (an xz check other than CRC32 or none)')
    .argument('[image]', "initramfs image (default: the running kernel's)")
    .option('--json', 'print the report as JSON')
    .option('--strict', 'stop at the first damage (a bad crc checksum) instead of warning and reading on')
    .option('--no-native', 'use only the built-in decoders')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string | undefined, o: { json?: boolean; strict?: boolean; native: boolean; maxOutput?: string }) => {
      const file = resolveImage(image);
      const damage = new DamageLog(warnLine);
      const info = await imageInfo(file, {
        native: o.native,
        strict: o.strict,
        onDamage: damage.note,
        partial: true,
        maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined,
      });
      if (o.json) printJson(info);
      else process.stdout.write(formatInfo(info));
      // The report shows how far each segment could be read; the exit still says the image is damaged.
      if (info.stopped) throw new RdError(info.stopped, {}, EXIT.badInput);
      damage.check(file);
    });
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export function formatInfo(i: ImageInfo): string {
  const lines: string[] = [];
  const total = i.segments.reduce((a, s) => a + s.uncompressedBytes, 0);
  lines.push(`Image:        ${i.file}`);
  lines.push(`Size:         ${i.size} bytes (${mib(i.size)}), ${mib(total)} of cpio data, ${i.entries} entries`);
  lines.push(`Kernel:       ${i.kernelVersions.join(', ') || 'unknown (no lib/modules/*)'}`);
  lines.push(`Generator:    ${i.generator ? i.generator.name + (i.generator.version ? ' ' + i.generator.version : '') : 'unknown'}`);
  lines.push(`Microcode:    ${i.microcode.length ? i.microcode.map((m) => `${m.vendor} (segment ${m.segment}, ${m.size} bytes)`).join(', ') : 'none'}`);
  for (const w of i.warnings) lines.push(`Warning:      ${w.message}`);
  lines.push('');
  lines.push('Segments:');
  const rows = [['#', 'offset', 'stored', 'compression', 'format', 'entries', 'uncompressed']];
  for (const s of i.segments) {
    rows.push([String(s.index), String(s.offset), String(s.storedBytes), s.compression, s.format ?? '-', String(s.entries), String(s.uncompressedBytes)]);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) lines.push('  ' + r.map((v, c) => (c === 3 || c === 4 ? v.padEnd(w[c]) : v.padStart(w[c]))).join('  '));
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
