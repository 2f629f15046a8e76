import type { Command } from 'commander';
import { repackImage } from '../write/repack.js';
import { COMPRESS_CHOICES, parseCompression, parseOwner } from '../write/options.js';
import { RdError, EXIT } from '../errors.js';
import { intOption, printJson } from './common.js';
import { examples } from './examples.js';

interface RepackFlags {
  output: string;
  compress: string;
  laterCompress?: string;
  level?: string;
  early?: string[];
  owner?: string;
  format: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('repack')
    .description(
      'build an image from a directory, reproducibly (sorted, inodes in order, SOURCE_DATE_EPOCH clamps mtimes); a directory in the extract layout (early…, main, main2…) is rebuilt as that layout',
    )
    .argument('<dir>', 'tree to pack, or the output of `rdrescue extract` for a multi-segment image')
    .requiredOption('-o, --output <image>', 'image to write (replaced atomically)')
    .option('--compress <method>', `main archive compression: ${COMPRESS_CHOICES.join(', ')}`, 'gzip')
    .option('--later-compress <method>', 'compression of main2, main3, … in a layout (default: same as --compress)')
    .option('--level <n>', 'compression level')
    .option('--early <dir...>', 'uncompressed archives to put before the main one (e.g. microcode), in order')
    .option('--owner <uid:gid>', 'store this owner for every entry, e.g. 0:0')
    .option('--format <format>', 'cpio format: newc, or crc (with data checksums)', 'newc')
    .option('--json', 'print the segments written as JSON')
    .action(async (dir: string, o: RepackFlags) => {
      if (o.format !== 'newc' && o.format !== 'crc') throw new RdError(`--format must be newc or crc, got ${JSON.stringify(o.format)}`, {}, EXIT.usage);
      const r = await repackImage(dir, o.output, {
        compress: parseCompression(o.compress),
        laterCompress: o.laterCompress ? parseCompression(o.laterCompress, '--later-compress') : undefined,
        level: o.level ? intOption('--level', o.level) : undefined,
        early: o.early,
        owner: o.owner ? parseOwner(o.owner) : undefined,
        format: o.format,
      });
      if (o.json) printJson(r);
      else {
        for (const s of r.segments) process.stderr.write(`rdrescue: ${s.dir}: ${s.entries} entries, ${s.compression}, ${s.storedBytes} bytes at offset ${s.offset}\n`);
        process.stderr.write(`rdrescue: wrote ${r.image} (${r.bytes} bytes)\n`);
      }
    });
  examples(cmd, [
    ['rdrescue repack /tmp/rd -o /tmp/new.img', 'rebuild an extracted image (early/ uncompressed, main/ gzip)'],
    ['rdrescue repack tree -o new.img --compress zstd --early ucode', 'a zstd main part behind an uncompressed early part'],
    ['SOURCE_DATE_EPOCH=0 rdrescue repack tree -o new.img --owner 0:0', 'the same bytes on every run and every machine'],
  ]);
}
