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
      const out = new LineBuffer();
      try {
        for await (const { entry, rawName, skip } of listImage(file, opts)) {
          if (skip) {
            // The warning must not overtake the lines before it.
            out.flush();
            warnLine(`${file}: the kernel skips ${JSON.stringify(entry.name.slice(0, 80) + (entry.name.length > 80 ? '…' : ''))}: ${skip}`);
          }
          if (o.long) out.bytes(longLine(entry, rawName));
          else if (rawName) out.bytes(rawName, true);
          else out.line(entry.name);
        }
      } finally {
        out.flush();
      }
      damage.check(file);
    });
  examples(cmd, [
    ['rdrescue ls', 'every entry of the running kernel\'s initramfs, as cpio -t prints them'],
    ['rdrescue ls -l /boot/initrd.img-6.1.0-18-amd64 \'*.ko*\'', 'the kernel modules, with modes, numeric owners, sizes and UTC times'],
    ['rdrescue ls --json /boot/initrd.img-6.1.0-18-amd64 \'etc/*\'', 'entries under etc/ as JSON'],
  ]);
}

/**
 * Lines gathered into writes of about 64 KiB. Names are joined as a string
 * and encoded once per write: a listing of 1,500 names made two small
 * buffers per line before, garbage that cost collections in a run of 0.1 s.
 * Names that are not UTF-8 (and long lines, which are bytes) go out as bytes.
 */
class LineBuffer {
  private text = '';
  private parts: Buffer[] = [];
  private size = 0;

  line(name: string): void {
    this.text += name + '\n';
    if (this.text.length > 1 << 16) this.flush();
  }

  bytes(b: Buffer, newline = false): void {
    this.toBytes();
    this.parts.push(b);
    if (newline) this.parts.push(NL);
    this.size += b.length;
    if (this.size > 1 << 16) this.flush();
  }

  flush(): void {
    this.toBytes();
    if (this.parts.length) process.stdout.write(Buffer.concat(this.parts));
    this.parts = [];
    this.size = 0;
  }

  /** Keeps the order: text gathered so far goes before the next bytes. */
  private toBytes(): void {
    if (!this.text) return;
    this.parts.push(Buffer.from(this.text));
    this.size += this.text.length;
    this.text = '';
  }
}

const NL = Buffer.from('\n');
