import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseElfBuffer, readElf } from '../../src/elf/elf.js';
import { parseLdCache, formatLdCache, libcmp, acceptedCacheFlags } from '../../src/elf/ldcache.js';
import { FormatError } from '../../src/errors.js';
import { cc, gccCanM32, scratch } from './build.js';

/**
 * A minimal dynamic ELF built by hand: header, PT_LOAD, PT_INTERP,
 * PT_DYNAMIC (NEEDED, SONAME, RUNPATH, STRTAB, STRSZ) and a string table,
 * in either class and byte order, so the big-endian and 32-bit paths are
 * tested without a cross toolchain.
 */
function craft(cls: 32 | 64, le: boolean, machine: number): Buffer {
  const is64 = cls === 64;
  const ehsize = is64 ? 64 : 52;
  const phsize = is64 ? 56 : 32;
  const dynEnt = is64 ? 16 : 8;
  const phoff = ehsize;
  const interpOff = phoff + 3 * phsize;
  const interp = Buffer.from('/lib/ld-test.so.1\0');
  const strtab = Buffer.from('\0libc.so.6\0libtest.so.1\0$ORIGIN/../lib\0libm.so.6\0');
  const strOff = interpOff + interp.length;
  const dynOff = (strOff + strtab.length + 7) & ~7;
  const dyn: Array<[number, number]> = [
    [1, 1], // NEEDED libc.so.6
    [1, 39], // NEEDED libm.so.6
    [14, 11], // SONAME libtest.so.1
    [29, 24], // RUNPATH $ORIGIN/../lib
    [5, 0x10000 + strOff], // STRTAB (an address: PT_LOAD maps offset 0 at 0x10000)
    [10, strtab.length],
    [0, 0],
  ];
  const size = dynOff + dyn.length * dynEnt;
  const b = Buffer.alloc(size);
  const u16 = (v: number, o: number) => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  const u32 = (v: number, o: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  const word = (v: number, o: number) => (is64 ? (le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o)) : u32(v, o));
  b.write('\x7fELF', 0, 'latin1');
  b[4] = is64 ? 2 : 1;
  b[5] = le ? 1 : 2;
  b[6] = 1;
  u16(3, 16); // ET_DYN
  u16(machine, 18);
  u32(1, 20);
  word(phoff, is64 ? 32 : 28);
  u16(ehsize, is64 ? 52 : 40);
  u16(phsize, is64 ? 54 : 42);
  u16(3, is64 ? 56 : 44);
  const ph = (i: number, type: number, off: number, vaddr: number, filesz: number) => {
    const o = phoff + i * phsize;
    u32(type, o);
    if (is64) {
      word(off, o + 8);
      word(vaddr, o + 16);
      word(filesz, o + 32);
      word(filesz, o + 40);
    } else {
      u32(off, o + 4);
      u32(vaddr, o + 8);
      u32(filesz, o + 16);
      u32(filesz, o + 20);
    }
  };
  ph(0, 3, interpOff, 0x10000 + interpOff, interp.length);
  ph(1, 1, 0, 0x10000, size);
  ph(2, 2, dynOff, 0x10000 + dynOff, dyn.length * dynEnt);
  interp.copy(b, interpOff);
  strtab.copy(b, strOff);
  dyn.forEach(([tag, val], i) => {
    word(tag, dynOff + i * dynEnt);
    word(val, dynOff + i * dynEnt + (is64 ? 8 : 4));
  });
  return b;
}

t.test('crafted headers: both classes and both byte orders', async (t) => {
  for (const [cls, le, machine] of [[64, true, 62], [32, true, 3], [64, false, 22], [32, false, 20]] as const) {
    const e = parseElfBuffer(craft(cls, le, machine), 'crafted');
    t.match(e, { class: cls, endian: le ? 'little' : 'big', machine, interpreter: '/lib/ld-test.so.1', needed: ['libc.so.6', 'libm.so.6'], soname: 'libtest.so.1', runpath: '$ORIGIN/../lib', rpath: undefined }, `ELF${cls} ${le ? 'LE' : 'BE'}`);
  }
});

t.test('gcc-built 32- and 64-bit programs agree with readelf', { skip: !gccCanM32() && 'no gcc -m32' }, async (t) => {
  const d = scratch(t);
  for (const m of ['-m64', '-m32']) {
    const f = cc(join(d, `p${m}`), ['hello.c'], [m, '-Wl,--disable-new-dtags,-rpath,/opt/x:$ORIGIN']);
    const e = readElf(f);
    const re = spawnSync('readelf', ['-d', '-l', '-h', f], { encoding: 'utf8' }).stdout;
    t.equal(e.class, /Class:\s+ELF64/.test(re) ? 64 : 32);
    t.equal(e.interpreter, /Requesting program interpreter: (\S+)\]/.exec(re)![1]);
    t.same(e.needed, [...re.matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]));
    t.equal(e.rpath, /\(RPATH\)\s+Library rpath: \[(.+)\]/.exec(re)![1]);
  }
});

t.test('corrupt and truncated ELF files fail with a FormatError naming the cause', async (t) => {
  const good = craft(64, true, 62);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['text', Buffer.from('#just text\n'), /not an ELF file/],
    ['tiny', good.subarray(0, 10), /truncated ELF: only 10 bytes/],
    ['header cut', good.subarray(0, 40), /ELF header .* beyond the end/],
    ['program headers cut', good.subarray(0, 100), /program header table \(3 entries\)/],
    ['dynamic cut', good.subarray(0, good.length - 20), /PT_DYNAMIC/],
  ];
  const badClass = Buffer.from(good);
  badClass[4] = 7;
  cases.push(['bad class', badClass, /EI_CLASS is 7/]);
  const badStr = Buffer.from(good);
  badStr.writeBigUInt64LE(0x10000n + 0xfffffn, good.length - 7 * 16 + 4 * 16 + 8);
  cases.push(['strtab outside', badStr, /DT_STRTAB address 0x10ffff is in no PT_LOAD segment/]);
  for (const [what, buf, re] of cases) {
    t.throws(() => parseElfBuffer(buf, `/x/${what}`), FormatError, what);
    try {
      parseElfBuffer(buf, `/x/${what}`);
    } catch (e) {
      t.match((e as Error).message, new RegExp(`^/x/${what}: .*${re.source}`), what);
    }
  }
});

t.test('ld.so.cache: every entry ldconfig -p lists, with its ABI flags', async (t) => {
  const entries = parseLdCache(readFileSync('/etc/ld.so.cache'), '/etc/ld.so.cache');
  const p = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout;
  const lines = [...p.matchAll(/^\t(\S+) \(([^)]*)\) => (\S+)$/gm)];
  t.equal(entries.length, Number(/^(\d+) libs found/.exec(p)![1]));
  t.equal(entries.length, lines.length);
  const abi = (flags: number) => ({ 0x303: 'libc6,x86-64', 0x803: 'libc6,x32', 3: 'libc6', 1: 'ELF' })[flags];
  t.same(
    entries.map((e) => `${e.key} (${abi(e.flags)}) => ${e.value}`),
    lines.map((m) => `${m[1]} (${m[2].replace(/, hwcap: .*/, '')}) => ${m[3]}`),
  );
  t.same(acceptedCacheFlags({ class: 64, machine: 62, flags: 0 }), [0x303]);
  t.same(acceptedCacheFlags({ class: 32, machine: 3, flags: 0 }), [1, 3]);
});

t.test('ld.so.cache: the old "ld.so-1.7.0" header in front of the new table', async (t) => {
  const fresh = formatLdCache([{ key: 'libnew.so.1', value: '/lib/libnew.so.1', flags: 0x303 }]);
  // Old header: magic, nlibs, entries (flags, key, value); string offsets count from the end of the entries.
  const strs = Buffer.from('libold.so.2\0/lib/libold.so.2\0');
  const old = (strBase: number) => {
    const b = Buffer.alloc(16 + 12);
    b.write('ld.so-1.7.0', 0, 'latin1');
    b.writeUInt32LE(1, 12);
    b.writeInt32LE(3, 16);
    b.writeUInt32LE(strBase, 20);
    b.writeUInt32LE(strBase + 12, 24);
    return b;
  };
  const onlyOld = parseLdCache(Buffer.concat([old(0), strs]), 'old');
  t.same(onlyOld.map((e) => [e.key, e.value, e.flags]), [['libold.so.2', '/lib/libold.so.2', 3]]);
  // ldconfig's compat layout: old entries, the new table 8-aligned right after them, then the shared strings.
  const pad = Buffer.alloc(4);
  const both = parseLdCache(Buffer.concat([old(pad.length + fresh.length), pad, fresh, strs]), 'compat');
  t.same(both.map((e) => [e.key, e.value, e.flags]), [['libnew.so.1', '/lib/libnew.so.1', 0x303]], 'the new table wins when present, as in dl-cache.c');
  t.throws(() => parseLdCache(Buffer.from('nonsense'), 'x'), FormatError);
  t.throws(() => parseLdCache(fresh.subarray(0, 60), 'cut'), /truncated ld\.so\.cache/);
});

t.test('a cache we write is read back by ldconfig -p and sorted as ld.so searches it', async (t) => {
  const d = scratch(t);
  const want = [
    { key: 'libfoo.so.9', value: '/opt/a/libfoo.so.9', flags: 0x303 },
    { key: 'libfoo.so.10', value: '/opt/a/libfoo.so.10', flags: 0x303 },
    { key: 'libbar.so.1', value: '/opt/b/libbar.so.1', flags: 3 },
  ];
  const f = join(d, 'ld.so.cache');
  writeFileSync(f, formatLdCache(want));
  const p = spawnSync('ldconfig', ['-p', '-C', f], { encoding: 'utf8' });
  t.equal(p.status, 0, p.stderr);
  t.same(
    [...p.stdout.matchAll(/^\t(\S+) \(([^)]*)\) => (\S+)$/gm)].map((m) => m[1]),
    ['libfoo.so.10', 'libfoo.so.9', 'libbar.so.1'],
    'descending _dl_cache_libcmp order: numbers compare as numbers',
  );
  t.ok(libcmp('libfoo.so.10', 'libfoo.so.9') > 0);
  t.ok(libcmp('libc.so.6', 'libc.so.6') === 0);
  t.ok(libcmp('liba.so', 'libb.so') < 0);
});
