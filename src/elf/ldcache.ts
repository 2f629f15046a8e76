import { readFileSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { FormatError } from '../errors.js';
import type { ElfInfo } from './elf.js';
import type { RootFs } from './rootfs.js';

/** One line of /etc/ld.so.cache: a library name (usually a soname), its path and its ABI flags. */
export interface CacheEntry {
  key: string;
  value: string;
  flags: number;
  /** Non-zero for entries that only apply to some CPUs (glibc-hwcaps subdirectories, legacy hwcap dirs). */
  hwcap: bigint;
}

const OLD_MAGIC = 'ld.so-1.7.0';
const NEW_MAGIC = 'glibc-ld.so.cache1.1';
const OLD_HEADER = 16; // magic[11] + pad + nlibs
const OLD_ENTRY = 12; // flags, key, value
const NEW_HEADER = 48; // magic[17] version[3] nlibs len_strings flags pad[3] extension_offset unused[3]
const NEW_ENTRY = 24; // flags, key, value, osversion, hwcap(u64)

/**
 * Parses ld.so.cache as glibc's dl-cache.c does: the current format, or the
 * old libc5-era header that older glibc still writes in front of the new
 * table (ldconfig -c compat). Old-format string offsets count from the end of
 * the old entries; new-format ones from the start of the new header.
 */
export function parseLdCache(buf: Buffer, file: string): CacheEntry[] {
  const at = (off: number, what: string): void => {
    if (off > buf.length) throw new FormatError(`truncated ld.so.cache: ${what} runs past the end (${buf.length} bytes)`, { file, offset: off });
  };
  let newStart = 0;
  const old: CacheEntry[] = [];
  if (buf.subarray(0, OLD_MAGIC.length).toString('latin1') === OLD_MAGIC) {
    at(OLD_HEADER, 'header');
    const n = buf.readUInt32LE(12);
    const strBase = OLD_HEADER + n * OLD_ENTRY;
    at(strBase, `${n} old-format entries`);
    for (let i = 0; i < n; i++) {
      const o = OLD_HEADER + i * OLD_ENTRY;
      old.push({ flags: buf.readInt32LE(o), key: cstr(buf, strBase + buf.readUInt32LE(o + 4), file), value: cstr(buf, strBase + buf.readUInt32LE(o + 8), file), hwcap: 0n });
    }
    // The new table, if any, follows on an 8-byte boundary (ALIGN_CACHE).
    newStart = (strBase + 7) & ~7;
    if (buf.subarray(newStart, newStart + NEW_MAGIC.length).toString('latin1') !== NEW_MAGIC) return old;
  } else if (buf.subarray(0, NEW_MAGIC.length).toString('latin1') !== NEW_MAGIC) {
    throw new FormatError(`not an ld.so.cache (magic is neither "${NEW_MAGIC}" nor "${OLD_MAGIC}")`, { file });
  }
  at(newStart + NEW_HEADER, 'header');
  // The header's flags byte records the writer's byte order: 2 little, 3 big (0 means unknown, treated as native little).
  const endianFlag = buf[newStart + 28] & 3;
  const le = endianFlag !== 3;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const n = u32(newStart + 20);
  at(newStart + NEW_HEADER + n * NEW_ENTRY, `${n} entries`);
  const out: CacheEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = newStart + NEW_HEADER + i * NEW_ENTRY;
    out.push({
      flags: le ? buf.readInt32LE(o) : buf.readInt32BE(o),
      key: cstr(buf, newStart + u32(o + 4), file),
      value: cstr(buf, newStart + u32(o + 8), file),
      hwcap: le ? buf.readBigUInt64LE(o + 16) : buf.readBigUInt64BE(o + 16),
    });
  }
  return out;
}

function cstr(buf: Buffer, off: number, file: string): string {
  const end = buf.indexOf(0, off);
  if (off >= buf.length || end < 0) throw new FormatError(`corrupt ld.so.cache: string at offset ${off} is outside the file or unterminated`, { file, offset: off });
  return buf.subarray(off, end).toString('latin1');
}

const FLAG_ELF = 0x01;
const FLAG_ELF_LIBC6 = 0x03;
const EM = { i386: 3, sparcv9: 43, ppc64: 21, s390: 22, arm: 40, ia64: 50, x86_64: 62, aarch64: 183, riscv: 243, loongarch: 258 } as const;
const EF_ARM_ABI_FLOAT_HARD = 0x400;
const EF_RISCV_FLOAT_ABI = 0x6;
const EF_RISCV_FLOAT_ABI_DOUBLE = 0x4;

/**
 * The cache flags the loader for this object's ABI accepts
 * (_dl_cache_check_flags / _DL_CACHE_DEFAULT_ID in each sysdeps dl-cache.h):
 * this is what keeps a 32-bit program from picking the x86-64 libc.
 */
export function acceptedCacheFlags(e: Pick<ElfInfo, 'class' | 'machine' | 'flags'>): number[] {
  const id = (req: number) => [FLAG_ELF_LIBC6 | req];
  const is64 = e.class === 64;
  switch (e.machine) {
    case EM.x86_64:
      return is64 ? id(0x0300) : id(0x0800); // x32 is the 32-bit class on EM_X86_64
    case EM.aarch64:
      return id(0x0a00);
    case EM.sparcv9:
      return is64 ? id(0x0100) : [FLAG_ELF, FLAG_ELF_LIBC6];
    case EM.ppc64:
      return id(0x0500);
    case EM.s390:
      return is64 ? id(0x0400) : [FLAG_ELF, FLAG_ELF_LIBC6];
    case EM.ia64:
      return id(0x0200);
    case EM.arm:
      return e.flags & EF_ARM_ABI_FLOAT_HARD ? id(0x0900) : id(0x0b00).concat(FLAG_ELF_LIBC6);
    case EM.riscv:
      return (e.flags & EF_RISCV_FLOAT_ABI) === EF_RISCV_FLOAT_ABI_DOUBLE ? id(0x1000) : id(0x0f00);
    case EM.loongarch:
      return id(0x1200);
    default:
      return [FLAG_ELF, FLAG_ELF_LIBC6];
  }
}

/**
 * Where the loader of one root finds libraries by name after RPATH/RUNPATH:
 * its ld.so.cache, or (for a root without one, such as an unpacked
 * initramfs or a fresh debootstrap) what ldconfig would have put there from
 * ld.so.conf. Only the cache is what ld.so itself reads; the ld.so.conf
 * fallback approximates it so a tree that never ran ldconfig still resolves.
 */
export class LibraryIndex {
  readonly source: 'cache' | 'ld.so.conf' | 'none';
  /** Path of the file the index came from (inside the root), for messages. */
  readonly sourceFile?: string;
  private byKey = new Map<string, CacheEntry[]>();
  /** Directories from ld.so.conf, in file order, when there is no cache. */
  readonly confDirs: string[] = [];

  constructor(private fs: RootFs) {
    const cache = fs.resolve('/etc/ld.so.cache');
    if (cache?.stat.isFile()) {
      this.source = 'cache';
      this.sourceFile = '/etc/ld.so.cache';
      for (const e of parseLdCache(readFileSync(cache.hostPath), cache.hostPath)) {
        const list = this.byKey.get(e.key);
        if (list) list.push(e);
        else this.byKey.set(e.key, [e]);
      }
      return;
    }
    const seen = new Set<string>();
    if (this.readConf('/etc/ld.so.conf', seen, 0)) {
      this.source = 'ld.so.conf';
      this.sourceFile = '/etc/ld.so.conf';
    } else this.source = 'none';
  }

  /**
   * Cache lookup for `name` as _dl_load_cache_lookup does it: the first entry
   * with an accepted ABI flag. Entries tied to CPU features (glibc-hwcaps)
   * are skipped, so the portable baseline library is chosen: a rescue image
   * may boot on another CPU than the one building it.
   */
  lookupCache(name: string, flags: number[]): string | undefined {
    for (const e of this.byKey.get(name) ?? []) {
      if (e.hwcap === 0n && flags.includes(e.flags)) return e.value;
    }
    return undefined;
  }

  private readConf(path: string, seen: Set<string>, depth: number): boolean {
    const r = this.fs.resolve(path);
    if (!r?.stat.isFile() || seen.has(r.path) || depth > 16) return false;
    seen.add(r.path);
    const text = readFileSync(r.hostPath, 'utf8');
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const inc = /^include\s+(.+)$/.exec(line);
      if (inc) {
        for (const pattern of inc[1].split(/\s+/)) {
          const abs = pattern.startsWith('/') ? pattern : posix.join(posix.dirname(path), pattern);
          for (const f of this.glob(abs)) this.readConf(f, seen, depth + 1);
        }
        continue;
      }
      if (/^hwcap\s/.test(line)) continue;
      // Several directories may share a line; "dir=libc5" style type suffixes are obsolete.
      for (const d of line.split(/[\s:,]+/)) {
        const dir = d.replace(/=.*$/, '').replace(/\/+$/, '') || '/';
        if (dir.startsWith('/') && !this.confDirs.includes(dir)) this.confDirs.push(dir);
      }
    }
    return true;
  }

  /** glob(3) for the include lines: wildcards only in the last component, sorted like glibc's glob. */
  private glob(pattern: string): string[] {
    const dir = posix.dirname(pattern);
    const base = posix.basename(pattern);
    if (!/[*?[]/.test(base)) return [pattern];
    const r = this.fs.resolve(dir);
    if (!r?.stat.isDirectory()) return [];
    const re = new RegExp('^' + base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
    return readdirSync(r.hostPath)
      .filter((n) => re.test(n) && !n.startsWith('.'))
      .sort()
      .map((n) => posix.join(dir, n));
  }
}

/**
 * The loader's built-in directories for an object's ABI. `libDir` is what
 * `$LIB` expands to for that loader ("lib/x86_64-linux-gnu" on Debian,
 * "lib64" on Fedora, "lib32" for Debian's biarch i386 loader); glibc puts
 * /$LIB and /usr/$LIB first, and Debian's builds (multiarch and biarch) add
 * /lib and /usr/lib after them (`ld.so --help` lists them as "system search
 * path"); Fedora-style lib64 loaders do not.
 */
export function defaultDirs(libDir: string): string[] {
  const dirs = [`/${libDir}`, `/usr/${libDir}`];
  if (libDir !== 'lib' && libDir !== 'lib64') dirs.push('/lib', '/usr/lib');
  return dirs;
}

/**
 * glibc's _dl_cache_libcmp: runs of digits compare as numbers, so
 * libfoo.so.10 sorts after libfoo.so.9. The cache is sorted in descending
 * order of it, which is what ld.so's binary search expects.
 */
export function libcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const digit = (c: number) => c >= 0x30 && c <= 0x39;
  while (i < a.length) {
    const ca = a.charCodeAt(i);
    const cb = j < b.length ? b.charCodeAt(j) : 0;
    if (digit(ca)) {
      if (!digit(cb)) return 1;
      let va = 0;
      let vb = 0;
      while (i < a.length && digit(a.charCodeAt(i))) va = va * 10 + a.charCodeAt(i++) - 0x30;
      while (j < b.length && digit(b.charCodeAt(j))) vb = vb * 10 + b.charCodeAt(j++) - 0x30;
      if (va !== vb) return va - vb;
    } else if (digit(cb)) return -1;
    else if (ca !== cb) return ca - cb;
    else {
      i++;
      j++;
    }
  }
  return 0 - (j < b.length ? b.charCodeAt(j) : 0);
}

/** Writes a new-format (glibc 2.32+) little-endian ld.so.cache holding `entries`, as ldconfig would. */
export function formatLdCache(entries: Array<Pick<CacheEntry, 'key' | 'value' | 'flags'>>): Buffer {
  const sorted = [...entries].sort((x, y) => libcmp(y.key, x.key) || x.flags - y.flags);
  const strings: Buffer[] = [];
  const offsets = new Map<string, number>();
  let strPos = NEW_HEADER + sorted.length * NEW_ENTRY;
  const str = (s: string) => {
    let o = offsets.get(s);
    if (o === undefined) {
      o = strPos;
      offsets.set(s, o);
      const b = Buffer.from(s + '\0', 'latin1');
      strings.push(b);
      strPos += b.length;
    }
    return o;
  };
  const table = Buffer.alloc(NEW_HEADER + sorted.length * NEW_ENTRY);
  sorted.forEach((e, i) => {
    const o = NEW_HEADER + i * NEW_ENTRY;
    table.writeInt32LE(e.flags, o);
    table.writeUInt32LE(str(e.key), o + 4);
    table.writeUInt32LE(str(e.value), o + 8);
  });
  table.write(NEW_MAGIC, 0, 'latin1');
  table.writeUInt32LE(sorted.length, 20);
  table.writeUInt32LE(strPos - (NEW_HEADER + sorted.length * NEW_ENTRY), 24);
  table[28] = 2; // cache_file_new_flags_endian_little
  return Buffer.concat([table, ...strings]);
}
