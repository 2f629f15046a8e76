import type { Command } from 'commander';
import { imageInfo, type ImageInfo } from '../image/info.js';
import { intOption, printJson } from './common.js';
import { withImageOrExample } from './image-arg.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('info')
    .description('show the segments of an image and what it is: kernel version, generator, microcode, biggest directories, modules; warns about what the kernel would refuse (an xz check other than CRC32 or none)')
    .argument('[image]', "initramfs image (default: the running kernel's, else the newest in /boot, else an example image)")
    .option('--json', 'print the report as JSON')
    .option('--no-native', 'use only the built-in decoders')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string | undefined, o: { json?: boolean; native: boolean; maxOutput?: string }) => {
      const opts = { native: o.native, maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined };
      const { result: info, example } = await withImageOrExample(image, (path) => imageInfo(path, opts));
      if (example) info.file = EXAMPLE_FILE;
      if (o.json) printJson(info);
      else process.stdout.write(formatInfo(info));
    });
  examples(cmd, [
    ['rdrescue info', 'the running kernel\'s initramfs (else the newest in /boot, else an example image)'],
    ['rdrescue info /boot/initrd.img-6.1.0-18-amd64', 'kernel version, generator, microcode, segments, biggest directories, modules'],
    ['rdrescue info --json /boot/initramfs-6.1.0-18-amd64.img', 'the same report as JSON'],
  ]);
}

/** What the report names as its image when it shows the example (its temporary copy is gone by then). */
const EXAMPLE_FILE = '(example image shipped with rdrescue)';

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
