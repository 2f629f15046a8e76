// Cut members through every decoder path. A cpio archive of real kernel
// modules, made by GNU cpio and compressed at test time by the real bzip2,
// lzop, xz (.lzma and .xz) and lz4 -l, is cut at several points. Each
// format's own decoder is the oracle: `lzop -dc` and `lz4 -dc` write every
// complete block before the cut, `xz -dc` everything the LZMA stream decodes
// up to it, then fail. `bzip2 -dc` writes in 5000-byte pieces and drops the
// last one at an unexpected end (bzip2.c, uncompressStream), so its library,
// libbz2, is asked through Python: it returns every complete block. rdrescue
// must show and write the entries whose data lies in that output, both
// through the default path (the xz and lzop programs when on PATH) and the
// built-in decoders (--no-native).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { compressWith } from '../helpers/sample-tree.js';
import { snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-salvage-dec-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const kernel = readdirSync('/usr/lib/modules').sort()[0];
const drivers = join('/usr/lib/modules', kernel, 'kernel/drivers');
const archive = (dirs: string) => spawnSync('sh', ['-c', `cd "$1" && find ${dirs} | LC_ALL=C sort | cpio -o --quiet -H newc`, 'sh', drivers], { maxBuffer: 1 << 30 }).stdout;
// 8 MB of modules: several bzip2 blocks (900k), lzop blocks (256 KiB), LZMA2 chunks and xz blocks.
const small = archive('ata md');
// 22 MB for lz4, whose legacy blocks are 8 MiB: three of them.
const large = archive('scsi');

interface Complete {
  name: string;
  type: 'dir' | 'file' | 'other';
}

/**
 * The entries whose header, name and data all lie in `out` (newc, as GNU cpio
 * wrote it), in order. `cpio -t` also lists the entry whose header decoded
 * but whose data is cut (it lists from the header alone), so this walks the
 * headers itself: an entry counts only when its data ends inside `out`.
 */
function completeEntries(out: Buffer): Complete[] {
  const done: Complete[] = [];
  const pad4 = (n: number) => (n + 3) & ~3;
  for (let p = 0; p + 110 <= out.length; ) {
    const field = (i: number) => parseInt(out.toString('latin1', p + 6 + i * 8, p + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameEnd = p + 110 + field(11);
    if (nameEnd > out.length) break;
    const name = out.toString('utf8', p + 110, nameEnd - 1);
    const dataEnd = pad4(nameEnd) + size;
    if (name === 'TRAILER!!!' || dataEnd > out.length) break;
    done.push({ name, type: (mode & 0o170000) === 0o040000 ? 'dir' : (mode & 0o170000) === 0o100000 ? 'file' : 'other' });
    p = pad4(dataEnd);
  }
  return done;
}

// Preset 1 keeps the test fast; the streams are of the same kind (1 MiB dictionary, as the kernel's are).
const codecs: Array<{ name: string; raw: Buffer; make: string[]; oracle: string[] }> = [
  { name: 'bzip2', raw: small, make: ['bzip2', '-c'], oracle: ['python3', '-c', 'import bz2, sys; sys.stdout.buffer.write(bz2.BZ2Decompressor().decompress(sys.stdin.buffer.read()))'] },
  { name: 'lzo', raw: small, make: ['lzop', '-c'], oracle: ['lzop', '-dc'] },
  { name: 'lzma', raw: small, make: ['xz', '--format=lzma', '-1', '-c'], oracle: ['xz', '--format=lzma', '-dc'] },
  { name: 'lz4', raw: large, make: ['lz4', '-l', '-c'], oracle: ['lz4', '-dc'] },
  // one block of LZMA2 chunks, which the walk beside the xz program reads one by one
  { name: 'xz', raw: small, make: ['xz', '--check=crc32', '-1', '-c'], oracle: ['xz', '-dc'] },
  // blocks that record their size (as mkinitramfs and dracut write them): the walk seeks over them
  { name: 'xz -T2', raw: small, make: ['xz', '--check=crc32', '-1', '-T2', '-c'], oracle: ['xz', '-dc'] },
];

const lines = (s: string) => s.split('\n').filter(Boolean);

for (const codec of codecs) {
  t.test(`${codec.name} cut at several points: ls and extract give every entry the program's own decoder completes before the cut, default and --no-native`, async (t) => {
    const full = compressWith(codec.make, codec.raw);
    for (const frac of [0.3, 0.6, 0.95]) {
      const cut = Math.floor(full.length * frac);
      const bytes = full.subarray(0, cut);
      const img = join(work, `${codec.name.replace(/\W/g, '')}-${cut}.img`);
      writeFileSync(img, bytes);
      const decoded = spawnSync(codec.oracle[0], codec.oracle.slice(1), { input: bytes, maxBuffer: 1 << 30 });
      const complete = completeEntries(decoded.stdout);
      const theirs = lines(spawnSync('cpio', ['-t', '--quiet'], { input: decoded.stdout }).stdout.toString());
      // lz4's first block is 8 MiB: a cut inside it leaves nothing to show
      if (!(codec.name === 'lz4' && frac < 0.35)) t.ok(complete.length > 5, `${codec.name} at ${cut}: the oracle completes ${complete.length} entries`);
      for (const path of [[], ['--no-native']]) {
        const at = `${codec.name} ${path[0] ?? 'default'} cut at ${cut} of ${full.length}`;
        const ls = rdrescue(['ls', ...path, img]);
        t.equal(ls.status, 3, at);
        const ours = lines(ls.stdout);
        t.same(
          ours.slice(0, complete.length),
          complete.map((e) => e.name),
          `${at}: every complete entry listed, in order`,
        );
        t.same(ours, theirs.slice(0, ours.length), `${at}: nothing cpio -t does not list`);
        const err = lines(ls.stderr);
        t.equal(err.length, 1, ls.stderr);
        const m = /: segment 0: offset (\d+): truncated \S+ data/.exec(err[0] ?? '');
        t.ok(m && Number(m[1]) <= cut, `${at}: one line naming segment, an offset within the file, and the cut: ${err[0]}`);
        if (codec.name !== 'lz4') t.equal(Number(m?.[1]), cut, `${at}: the offset is the cut`);

        const dest = join(work, `x-${codec.name.replace(/\W/g, '')}-${cut}${path.join('')}`);
        const x = rdrescue(['extract', ...path, img, dest]);
        t.equal(x.status, 3, at);
        t.equal(x.stderr.replace(/entry "[^"]*": /, ''), ls.stderr, `${at}: the same error`);
        const written = snapshot(dest);
        t.same(
          [...written.keys()].sort(),
          complete.map((e) => e.name).sort(),
          `${at}: exactly the complete entries written, no partial file, no staging directory`,
        );
        const wrong = complete.filter((e) => {
          const w = written.get(e.name);
          if (!w || e.type === 'other') return false;
          if (e.type === 'dir') return (w.mode & 0o7777) !== (statSync(join(drivers, e.name)).mode & 0o7777);
          return !readFileSync(join(dest, e.name)).equals(readFileSync(join(drivers, e.name)));
        });
        t.same(wrong, [], `${at}: every file whole, every directory with its mode (not 0700)`);
        t.notOk(existsSync(join(dest, `.rdrescue-partial-${process.pid}`)));
        rmSync(dest, { recursive: true, force: true });
      }
    }

    const img = join(work, `${codec.name.replace(/\W/g, '')}-strict.img`);
    writeFileSync(img, full.subarray(0, Math.floor(full.length * 0.6)));
    for (const path of [[], ['--no-native']]) {
      const at = `${codec.name} ${path[0] ?? 'default'}`;
      // A cut is the first damage: --strict stops there as the default does.
      const ls = rdrescue(['ls', ...path, img]);
      const strict = rdrescue(['ls', '--strict', ...path, img]);
      t.equal(strict.status, 3);
      t.equal(strict.stdout, ls.stdout, `${at}: --strict shows the same entries`);
      t.equal(strict.stderr, ls.stderr, `${at}: --strict reports the same damage`);
      // The decompression-bomb limit holds on the salvage path, and is what is reported: it is met before the cut.
      const limit = String(Math.floor(codec.raw.length / 5));
      const limited = rdrescue(['ls', '--max-output', limit, ...path, img]);
      t.equal(limited.status, 3, at);
      t.match(limited.stderr, new RegExp(`segment 0: offset 0: \\S+ member expands beyond the ${limit}-byte output limit`), `${at}: ${limited.stderr}`);
      t.ok(lines(limited.stdout).length < lines(ls.stdout).length, `${at}: the listing stops at the limit`);
    }
  });
}
