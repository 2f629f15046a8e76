import type { Command } from 'commander';
import { DamageLog } from '../image/damage.js';
import { listImage, longLine, toListed, type ListedEntry } from '../image/list.js';
import { intOption, printJson, warnLine } from './common.js';
import { ADDONS_HELP, PROFILE_HELP, resolveImage, ukiFlags } from './image-arg.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('ls')
    .description(
      'list every entry of every segment, names exactly as stored (what `cpio -t` prints for each segment in turn); a damaged image lists every entry before the damage, then fails (exit 3)',
    )
    .argument('[image]', 'initramfs image, UKI or kernel with a built-in initramfs (default: the running kernel\'s)')
    .argument('[patterns...]', 'shell globs on the entry name')
    .option('-l, --long', 'one `cpio -tv`-like line per entry (numeric owners, UTC times)')
    .option('--json', 'print a JSON array of entries')
    .option('--strict', 'stop at the first damage (a bad crc checksum) instead of warning and reading on')
    .option('--profile <n>', PROFILE_HELP)
    .option('--addons <dir>', ADDONS_HELP)
    .option('--no-native', 'use only the built-in decoders')
    .option('--verify', 'check the data of every file in crc archives, also of files this command skips unread')
    .option('--max-output <bytes>', 'stop after this many decompressed bytes (bomb guard)')
    .action(async (image: string | undefined, patterns: string[], o: { long?: boolean; json?: boolean; strict?: boolean; native: boolean; verify?: boolean; maxOutput?: string; profile?: string; addons?: string }) => {
      const file = resolveImage(image);
      const damage = new DamageLog(warnLine);
      const opts = { ...ukiFlags(o), patterns, native: o.native, verify: o.verify, strict: o.strict, onDamage: damage.note, maxOutput: o.maxOutput ? intOption('--max-output', o.maxOutput) : undefined };
      if (o.json) {
        const all: ListedEntry[] = [];
        // What was read before a fatal error is still printed, then the error.
        try {
          for await (const item of listImage(file, opts)) all.push(toListed(item));
        } finally {
          printJson(all);
        }
        damage.check(file);
        return;
      }
      // Batch output: one write per entry would dominate the run time on big images.
      let pending: Buffer[] = [];
      let bytes = 0;
      const flush = () => {
        if (pending.length) process.stdout.write(Buffer.concat(pending));
        pending = [];
        bytes = 0;
      };
      try {
        for await (const { entry, rawName, skip } of listImage(file, opts)) {
          if (skip) {
            // The warning must not overtake the lines before it.
            flush();
            warnLine(`${file}: the kernel skips ${JSON.stringify(entry.name.slice(0, 80) + (entry.name.length > 80 ? '…' : ''))}: ${skip}`);
          }
          const line = o.long ? longLine(entry, rawName) : Buffer.concat([rawName ?? Buffer.from(entry.name), NL]);
          pending.push(line);
          bytes += line.length;
          if (bytes > 1 << 16) flush();
        }
      } finally {
        flush();
      }
      damage.check(file);
    });
  examples(cmd, [
    ['rdrescue ls', 'every entry of the running kernel\'s initramfs, as cpio -t prints them'],
    ['rdrescue ls -l /boot/initrd.img-6.1.0-18-amd64 \'*.ko*\'', 'the kernel modules, with modes, numeric owners, sizes and UTC times'],
    ['rdrescue ls --json /boot/initrd.img-6.1.0-18-amd64 \'etc/*\'', 'entries under etc/ as JSON'],
  ]);
}

const NL = Buffer.from('\n');
