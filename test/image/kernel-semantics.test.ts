// Kernel-made images and the entries where the kernel's init/initramfs.c and
// cpio(1) differ. Archives come from a gen_init_cpio-format generator
// (test/helpers/gen-init-cpio.ts) and GNU cpio; where cpio agrees with the
// kernel, GNU cpio is the oracle, elsewhere the rule derived from
// initramfs.c (named in each test and in docs/kernel-semantics.md).
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { formatHeader } from '../../src/cpio/header.js';
import { rdrescue, type CliResult } from '../helpers/cli.js';
import { genInitCpio } from '../helpers/gen-init-cpio.js';
import { newcEntry } from '../helpers/newc-entry.js';
import { gnuExtract } from '../helpers/sample-tree.js';
import { diffSnapshots, snapshot } from '../helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-kernel-'));
// rm(1) walks with openat(): rmSync fails on paths past PATH_MAX
t.teardown(() => execFileSync('rm', ['-rf', work]));
const T = 1700000000;

const data = join(work, 'data');
mkdirSync(data);
const big = Buffer.alloc(3000);
for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
writeFileSync(join(data, 'big'), big);
writeFileSync(join(data, 'small'), 'hello\n');
writeFileSync(join(data, 'junk'), 'junk that a trailer claims as its body\n');

function image(name: string, bytes: Buffer): string {
  const p = join(work, name);
  writeFileSync(p, bytes);
  return p;
}
const cpioList = (bytes: Buffer) => execFileSync('cpio', ['-t', '--quiet'], { input: bytes }).toString();

/** Extracts an image into two DIRs prepared alike: with rdrescue into `ours`, with GNU cpio -idm into `theirs`. */
function extractBoth(t: Test, bytes: Buffer, img: string, ours: string, theirs: string, prepare: (dest: string) => void): CliResult {
  prepare(ours);
  prepare(theirs);
  const x = rdrescue(['extract', img, ours]);
  t.equal(x.status, 0, x.stderr);
  execFileSync('sh', ['-c', 'cd "$1" && cpio -idm --quiet', 'sh', theirs], { input: bytes });
  return x;
}

const EVERY_TYPE = `# every entry type gen_init_cpio writes
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/vda 0660 0 6 b 254 0
dir /bin 0755 0 0
file /bin/busybox ${data}/big 0755 0 0 /bin/sh
file /etc-hostname ${data}/small 0644 0 0
slink /init /bin/busybox 0777 0 0
slink /bin/ls busybox 0777 0 0
pipe /run-fifo 0644 0 0
sock /run-sock 0755 0 0
dir /root 0700 0 0
`;

for (const [label, opts] of [
  ['newc', { mtime: T }],
  ['-a 512 name padding', { mtime: T, align: 512 }],
  ['-c crc', { mtime: T, csum: true }],
] as const) {
  t.test(`gen_init_cpio ${label}: symlink targets and names end at their NUL (do_symlink, do_name), as cpio reads them`, async (t) => {
    const bytes = genInitCpio(EVERY_TYPE, opts);
    if ('align' in opts) t.ok(bytes.indexOf(Buffer.from('bin/sh\0\0\0')) > 0, 'the name field really is NUL-padded');
    const img = image(`gic-${label.replace(/\W+/g, '-')}.cpio`, bytes);
    const ls = rdrescue(['ls', img]);
    t.equal(ls.status, 0, ls.stderr);
    t.equal(ls.stdout, cpioList(bytes), 'ls equals cpio -t');
    t.notMatch(ls.stdout, /\0/, 'no NUL printed');
    const long = rdrescue(['ls', '-l', img]);
    t.match(long.stdout, / init -> \/bin\/busybox\n/);
    const json = rdrescue(['ls', '--json', img]);
    t.notMatch(json.stdout, /\\u0000/);
    t.equal(JSON.parse(json.stdout).find((e: { name: string }) => e.name === 'init').target, '/bin/busybox');
    const ours = join(work, `gic-${label.replace(/\W+/g, '-')}-ours`);
    const theirs = `${ours}-cpio`;
    const x = rdrescue(['extract', img, ours]);
    t.equal(x.status, 0, x.stderr);
    gnuExtract(bytes, theirs);
    t.equal(readlinkSync(join(ours, 'init')), '/bin/busybox');
    t.equal(readFileSync(join(ours, 'bin/sh')).compare(big), 0, 'hard link got the data');
    // sockets are skipped (a program makes its own), so compare without it
    rmSync(join(theirs, 'run-sock'));
    t.same(diffSnapshots(snapshot(theirs), snapshot(ours)), [], 'tree equals cpio -idm');
  });
}

t.test('names of 255 and 4,095 bytes extract whatever the length of DIR; 4,097 is skipped with a warning (do_header: name_len > PATH_MAX)', async (t) => {
  // components of 200 bytes (under NAME_MAX), the whole exactly `len` bytes
  const deep = (len: number) => {
    let name = '';
    while (name.length + 201 < len) name += 'd'.repeat(200) + '/';
    return name + 'f'.repeat(len - name.length);
  };
  const n255 = 'n'.repeat(255);
  const n4095 = deep(4095);
  const n4097 = deep(4097);
  t.equal(n4095.length, 4095);
  t.equal(n4097.length, 4097);
  writeFileSync(join(data, 'x'), 'x\n');
  const bytes = genInitCpio(`file /${n255} ${data}/x 0644 0 0\nfile ${n4095} ${data}/x 0644 0 0\nfile ${n4097} ${data}/x 0644 0 0\nfile after ${data}/x 0644 0 0\n`, { mtime: T });
  const img = image('longnames.cpio', bytes);
  const ls = rdrescue(['ls', img]);
  t.equal(ls.status, 0, ls.stderr);
  t.equal(ls.stdout, cpioList(bytes), 'ls still shows all of them, as cpio -t does');
  t.match(ls.stderr, /warning: .*the kernel skips .*longer than PATH_MAX/);
  // DIR long enough that DIR/name passes PATH_MAX
  const dest = join(work, 'L'.repeat(200), 'M'.repeat(200));
  const x = rdrescue(['extract', img, dest]);
  t.equal(x.status, 0, x.stderr);
  t.match(x.stderr, /skipped file .*longer than PATH_MAX/);
  t.notMatch(x.stderr, /ENAMETOOLONG/);
  // relative to DIR, as DIR/name is longer than PATH_MAX
  const inside = (rel: string) => execFileSync('sh', ['-c', 'cd "$1" && cat "$2" 2>/dev/null || echo missing', 'sh', dest, rel]).toString();
  t.equal(inside(n255), 'x\n');
  t.equal(inside(n4095), 'x\n', 'the 4,095-byte name is extracted');
  t.equal(readFileSync(join(dest, 'after'), 'utf8'), 'x\n', 'extraction went on');
  t.equal(inside(n4097), 'missing\n', 'the 4,097-byte name is not');
  t.equal(statSync(dest).mode & 0o7777, 0o755);
});

t.test('a 4,095-byte name extracts as GNU cpio extracts it into a 3,000-byte DIR that already holds part of the tree (the staged tree is merged from inside, never by absolute path)', async (t) => {
  const comp = (c: string) => c.repeat(200);
  const chain = Array.from({ length: 20 }, () => comp('d'));
  const name = chain.join('/') + '/' + 'f'.repeat(4095 - chain.join('/').length - 1);
  t.equal(name.length, 4095);
  writeFileSync(join(data, 'x'), 'x\n');
  const list = chain.map((_, i) => `dir /${chain.slice(0, i + 1).join('/')} 0750 0 0\n`).join('') + `file ${name} ${data}/x 0644 0 0\nfile after ${data}/x 0644 0 0\n`;
  const bytes = genInitCpio(list, { mtime: T });
  const img = image('long-merge.cpio', bytes);
  // DIR of about 3,000 bytes; the whole directory chain already there, with a file of its own
  const deepDir = (root: string) => join(root, ...Array.from({ length: 15 }, () => comp('L')));
  const prepare = (dest: string) => {
    mkdirSync(dest, { recursive: true });
    execFileSync('sh', ['-c', 'cd "$1" && mkdir -p "$2" && echo pre > "$3"/pre', 'sh', dest, chain.join('/'), chain[0]]);
  };
  const ours = deepDir(join(work, 'long-merge'));
  const theirs = deepDir(join(work, 'long-merge-cpio'));
  t.ok(ours.length > 3000);
  t.equal(extractBoth(t, bytes, img, ours, theirs, prepare).stderr, '');
  // find(1) walks with openat(): paths past PATH_MAX are fine
  const facts = (dest: string, what: string) => execFileSync('sh', ['-c', `cd "$1" && find . -mindepth 1 -printf '${what} %p\\n' | sort`, 'sh', dest]).toString();
  t.equal(facts(ours, '%y %m %s %U:%G'), facts(theirs, '%y %m %s %U:%G'), 'types, modes, sizes and owners as GNU cpio gives them');
  const inside = (dest: string, rel: string) => execFileSync('sh', ['-c', 'cd "$1" && cat "$2"', 'sh', dest, rel]).toString();
  t.equal(inside(ours, name), 'x\n', 'the 4,095-byte name has its data');
  t.equal(inside(ours, `${chain[0]}/pre`), 'pre\n', 'what DIR held stays');
  const dirTimes = facts(ours, '%y %T@').split('\n').filter((l) => l.startsWith('d '));
  t.same(new Set(dirTimes.map((l) => l.split(' ')[1])), new Set([`${T}.0000000000`]), 'the merged directories get the mtimes of the archive (dir_utime)');
  t.notMatch(execFileSync('ls', ['-A', ours]).toString(), /rdrescue/, 'nothing staged is left');
});

t.test('a directory whose name is not UTF-8 merges into the one already in DIR, as GNU cpio does', async (t) => {
  const cafe = Buffer.from('caf\xe9', 'latin1');
  const bytes = Buffer.concat([
    newcEntry(cafe, 0o040750, '', { ino: 1, nlink: 2 }),
    newcEntry(Buffer.concat([cafe, Buffer.from('/new')]), 0o100644, 'new\n', { ino: 2 }),
    newcEntry('TRAILER!!!', 0),
  ]);
  const img = image('latin1-merge.cpio', bytes);
  const prepare = (dest: string) => {
    mkdirSync(dest, { recursive: true });
    execFileSync('sh', ['-c', 'cd "$1" && mkdir "$(printf \'caf\\351\')" && echo old > "$(printf \'caf\\351\')"/old', 'sh', dest]);
  };
  const ours = join(work, 'latin1-merge');
  const theirs = `${ours}-cpio`;
  extractBoth(t, bytes, img, ours, theirs, prepare);
  const facts = (dest: string) => execFileSync('sh', ['-c', `cd "$1" && find . -mindepth 1 -printf '%y %m %s %p\\n' | sort`, 'sh', dest]).toString('latin1');
  t.equal(facts(ours), facts(theirs));
  t.match(facts(ours), /caf\xe9\/old/, 'what DIR held stays');
});

t.test('TRAILER!!! per type: a symlink so named is a symlink (do_symlink); a file or data-less entry so named ends the archive and its body is skipped (do_name)', async (t) => {
  const sym = genInitCpio(`slink /TRAILER!!! /bin/sh 0777 0 0\nfile a ${data}/small 0644 0 0\n`, { mtime: T });
  const file = genInitCpio(`file /TRAILER!!! ${data}/junk 0644 0 0\n`, { mtime: T });
  const dir = genInitCpio(`dir /TRAILER!!! 0755 0 0\n`, { mtime: T });
  const fifo = genInitCpio(`pipe /TRAILER!!! 0644 0 0\n`, { mtime: T });
  const after = genInitCpio(`file b ${data}/small 0644 0 0\n`, { mtime: T });
  // no zero padding between: the kernel's Reset state takes the next header right after the skipped body
  const fileRaw = file.subarray(0, file.indexOf(Buffer.from('070701000000000000000000')));
  const img = image('trailers.img', gzipSync(Buffer.concat([sym, fileRaw, dir, fifo, after])));
  const ls = rdrescue(['ls', img]);
  t.equal(ls.status, 0, ls.stderr);
  t.equal(ls.stdout, 'TRAILER!!!\na\nb\n');
  const dest = join(work, 'trailers');
  const x = rdrescue(['extract', img, dest]);
  t.equal(x.status, 0, x.stderr);
  t.equal(readlinkSync(join(dest, 'TRAILER!!!')), '/bin/sh');
  t.equal(readFileSync(join(dest, 'b'), 'utf8'), 'hello\n', 'the archive after the file-typed trailer and its body is read');
});

t.test('a non-file entry carrying data is skipped whole, name unread, and the archive goes on (do_header: S_ISREG(mode) || !body_len)', async (t) => {
  const e = { mode: 0o040755, uid: 0, gid: 0, nlink: 2, mtime: T, ino: 9, devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, check: 0 };
  const body = Buffer.from('data\n\0\0\0');
  const head = Buffer.concat([formatHeader({ ...e, name: 'TRAILER!!!', size: 5 }), body]);
  const rest = genInitCpio(`file c ${data}/small 0644 0 0\n`, { mtime: T });
  const img = image('dirdata.cpio', Buffer.concat([head, rest]));
  const ls = rdrescue(['ls', img]);
  t.equal(ls.status, 0, ls.stderr);
  t.equal(ls.stdout, 'TRAILER!!!\nc\n', 'listed, and it did not end the archive');
  t.match(ls.stderr, /the kernel skips "TRAILER!!!": a non-file entry carrying 5 bytes/);
  const dest = join(work, 'dirdata');
  t.equal(rdrescue(['extract', img, dest]).status, 0);
  t.notOk(existsSync(join(dest, 'TRAILER!!!')));
  t.ok(existsSync(join(dest, 'c')));
});

t.test('an entry of unknown file type is listed as cpio lists it and never created; without data it still removes what has its name (do_header, do_name: clean_path)', async (t) => {
  const bytes = Buffer.concat([
    newcEntry('a', 0o100644, 'first a\n', { ino: 1 }),
    // type bits 17: no such type; with data the kernel skips the whole entry unread
    newcEntry('weird', 0o170644, 'body of weird\n', { ino: 2 }),
    // type bits 0 without data: do_name() runs, clean_path() removes "a" (no type matches), nothing is made
    newcEntry('zero', 0o000644, '', { ino: 3 }),
    newcEntry('a', 0o000644, '', { ino: 4 }),
    newcEntry('after', 0o100644, 'after\n', { ino: 5 }),
    newcEntry('TRAILER!!!', 0),
  ]);
  const img = image('unknown-type.cpio', bytes);
  const ls = rdrescue(['ls', img]);
  t.equal(ls.status, 0, ls.stderr);
  t.equal(ls.stdout, cpioList(bytes), 'ls equals cpio -t: every entry shown');
  t.match(ls.stderr, /the kernel skips "weird": unknown file type in mode 170644, with 14 bytes of data/);
  const long = rdrescue(['ls', '-l', img]).stdout.split('\n');
  const theirs = execFileSync('cpio', ['-tv', '--quiet'], { input: bytes }).toString().split('\n');
  t.same(long.map((l) => l.slice(0, 10)), theirs.map((l) => l.slice(0, 10)), 'ls -l shows the type as "?", as cpio -tv does');
  t.equal(JSON.parse(rdrescue(['ls', '--json', img]).stdout)[1].type, 'unknown');
  const dest = join(work, 'unknown-type');
  const x = rdrescue(['extract', img, dest]);
  t.equal(x.status, 0, x.stderr);
  t.match(x.stderr, /skipped entry "weird": unknown file type in mode 170644/);
  t.match(x.stderr, /skipped entry "a": unknown file type in mode 000644 .*"a" was there and is removed, as the kernel's clean_path\(\) removes it/);
  t.same(execFileSync('ls', ['-A', dest]).toString(), 'after\n', 'only the file after them: the kernel\'s tree');
  t.equal(readFileSync(join(dest, 'after'), 'utf8'), 'after\n');
  const cat = rdrescue(['cat', img, 'a']);
  t.equal(cat.status, 1, 'cat shows the kernel\'s tree too');
  t.match(cat.stderr, /"a" is not in the image/);
  const strict = rdrescue(['extract', '--strict', img, join(work, 'unknown-strict')]);
  t.equal(strict.status, 3, '--strict stops at it');
  t.match(strict.stderr, /^rdrescue: .*unknown-type\.cpio: segment 0: offset 120: entry "weird": unknown file type in mode 170644\n$/);
});

t.test('a directory, then a file of the same name in a later archive: the file is skipped with a warning, the rest extracted, modes final (clean_path, do_name)', async (t) => {
  writeFileSync(join(data, 'keep'), 'keep\n');
  const first = genInitCpio(`dir /etc 0751 0 0\nfile /etc/keep ${data}/keep 0600 0 0\n`, { mtime: T });
  const second = genInitCpio(`file /etc ${data}/small 0644 0 0\nfile /later ${data}/small 0644 0 0\n`, { mtime: T });
  const img = image('dirfile.img', gzipSync(Buffer.concat([first, second])));
  const dest = join(work, 'dirfile');
  const x = rdrescue(['extract', img, dest]);
  t.equal(x.status, 0, x.stderr);
  t.match(x.stderr, /warning: skipped file "etc": "etc" is a non-empty directory/);
  t.ok(lstatSync(join(dest, 'etc')).isDirectory());
  t.equal(readFileSync(join(dest, 'etc/keep'), 'utf8'), 'keep\n');
  t.equal(readFileSync(join(dest, 'later'), 'utf8'), 'hello\n', 'later entries are written');
  t.equal(statSync(join(dest, 'etc')).mode & 0o7777, 0o751, 'the directory has its mode, not 0700');
  t.equal(statSync(join(dest, 'etc')).mtimeMs / 1000, T, 'and its mtime (dir_utime)');
});

t.test('symlink swap: a directory replaced by a link later in the archive never gets its mode or mtime through the link', async (t) => {
  const outside = join(work, 'swap-outside');
  mkdirSync(outside, { mode: 0o700 });
  const bytes = genInitCpio(`dir /x 0777 0 0\nslink /x ${outside} 0777 0 0\n`, { mtime: T });
  const dest = join(work, 'swap');
  const x = rdrescue(['extract', image('swap.cpio', bytes), dest, '--merged']);
  t.equal(x.status, 0, x.stderr);
  t.equal(statSync(outside).mode & 0o7777, 0o700, 'outside directory untouched');
  t.not(Math.floor(statSync(outside).mtimeMs / 1000), T);
  t.equal(readlinkSync(join(dest, 'x')), outside);
});

t.test('formats the kernel refuses are named: an LZ4 frame (with the lz4 -l hint) and binary cpio', async (t) => {
  const lz4 = execFileSync('lz4', ['-c', '-q'], { input: genInitCpio(EVERY_TYPE, { mtime: T }) });
  t.equal(lz4.subarray(0, 4).toString('hex'), '04224d18');
  const r = rdrescue(['ls', image('frame.lz4', lz4)]);
  t.equal(r.status, 3);
  t.match(r.stderr, /^rdrescue: .*frame\.lz4: segment 0: offset 0: an LZ4 frame .*lz4 -l/);
  const src = join(work, 'binsrc');
  mkdirSync(src);
  writeFileSync(join(src, 'a'), 'a');
  const bin = execFileSync('sh', ['-c', 'cd "$1" && echo a | cpio -o --quiet -H bin', 'sh', src]);
  const b = rdrescue(['ls', image('bin.cpio', bin)]);
  t.equal(b.status, 3);
  t.match(b.stderr, /binary \(old\) cpio, which the kernel cannot unpack/);
  t.equal(b.stderr.trim().split('\n').length, 1);
  // as cpio -H bin writes it on a big-endian machine: every 16-bit header field byte-swapped
  const swapped = Buffer.from(bin);
  swapped.subarray(0, 26).swap16();
  t.equal(swapped.subarray(0, 2).toString('hex'), '71c7');
  const be = rdrescue(['ls', image('bin-be.cpio', swapped)]);
  t.equal(be.status, 3);
  t.match(be.stderr, /^rdrescue: .*bin-be\.cpio: segment 0: offset 0: binary \(old, big-endian\) cpio, which the kernel cannot unpack.*cpio -H newc`?\n$/);
});

t.test('a DIR that is a file, or under one, is one line in words (exit 1), not Node\'s "file already exists (mkdir)"', async (t) => {
  const img = image('small.cpio', genInitCpio(`file a ${data}/small 0644 0 0\n`, { mtime: T }));
  const file = join(work, 'a-file');
  writeFileSync(file, 'x');
  for (const dest of [file, join(file, 'sub')]) {
    const r = rdrescue(['extract', img, dest]);
    t.equal(r.status, 1);
    t.equal(r.stderr, `rdrescue: cannot create ${dest}: it or a parent is not a directory\n`);
  }
});

t.test('a DIR inside /proc, where mkdir says ENOENT under an existing parent, is one line (exit 1), not an endless mkdir -p', async (t) => {
  const img = image('small.cpio', genInitCpio(`file a ${data}/small 0644 0 0\n`, { mtime: T }));
  // Node's recursive mkdirSync retried this forever at 100% CPU; the limit only turns a hang into a failure.
  const r = rdrescue(['extract', img, '/proc/sys/rdrescue-test/x'], { timeout: 60_000 });
  t.equal(r.status, 1);
  t.match(r.stderr, /^rdrescue: cannot create \/proc\/sys\/rdrescue-test\/x: .+\n$/);
});

t.test('a 0700 DIR, and a directory in it the archive only writes into, keep their modes, as GNU cpio and the kernel leave them', async (t) => {
  const bytes = genInitCpio(`file /etc/fstab ${data}/small 0644 0 0\ndir /var 0755 0 0\n`, { mtime: T });
  const img = image('no-parent-entry.cpio', bytes);
  const prepare = (dest: string) => {
    mkdirSync(join(dest, 'etc'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dest, 'var'), { mode: 0o700 });
    execFileSync('chmod', ['700', dest, join(dest, 'etc'), join(dest, 'var')]);
  };
  const ours = join(work, 'private-dir');
  const theirs = `${ours}-cpio`;
  extractBoth(t, bytes, img, ours, theirs, prepare);
  const modes = (dest: string) => ['', 'etc', 'var'].map((p) => (statSync(join(dest, p)).mode & 0o7777).toString(8));
  t.same(modes(ours), modes(theirs));
  t.same(modes(ours), ['700', '700', '755'], 'the directory the archive has gets its mode');
});
