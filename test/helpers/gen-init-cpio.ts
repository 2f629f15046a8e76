// A list-driven generator of the archives the kernel's usr/gen_init_cpio
// writes (every CONFIG_INITRAMFS_SOURCE initramfs is one). It follows
// gen_init_cpio.c as of Linux 6.18: the same list lines (file, dir, nod,
// slink, pipe, sock), upper-case hex, inode numbers from 721, nlink 2 for
// dir/pipe/sock, dev 3:1, symlink targets stored with their NUL, data on the
// last name of a hard-link group, -c checksums, -a name padding that aligns
// file data, and a trailer padded to 512 bytes. No copy of gen_init_cpio.c
// can be installed here (no deb-src, no linux-source package), so this is
// the test-time stand-in; it shares no code with rdrescue's own writer. It
// was checked once, byte for byte, against gen_init_cpio.c compiled from a
// copy read from the kernel tree (with and without -c and -a 512, every
// entry type and a three-name hard-link group).
import { readFileSync } from 'node:fs';

export interface GenOptions {
  /** -t: mtime of every entry (gen_init_cpio then also uses it for files). */
  mtime: number;
  /** -c: the crc format (070702) with data checksums. */
  csum?: boolean;
  /** -a: align file data to this many bytes by padding names with NULs. */
  align?: number;
}

const PATH_MAX = 4096;
const HDR = 110;
const padlen = (off: number, align: number) => (align - (off & (align - 1))) % align;

/** Builds the archive for a cpio_list, as `gen_init_cpio -t MTIME [-c] [-a N] LIST` prints it. */
export function genInitCpio(list: string, opts: GenOptions): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  let ino = 721;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  const pad = (n: number) => push(Buffer.alloc(n));
  const magic = opts.csum ? '070702' : '070701';
  const hex = (n: number) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
  // every entry but the trailer claims device 3:1
  const header = (f: { ino: number; mode: number; uid: number; gid: number; nlink: number; size: number; rmaj?: number; rmin?: number; namesize: number; csum?: number }, mtime = opts.mtime, dev = [3, 1]) =>
    push(Buffer.from(magic + [f.ino, f.mode, f.uid, f.gid, f.nlink, mtime, f.size, ...dev, f.rmaj ?? 0, f.rmin ?? 0, f.namesize, f.csum ?? 0].map(hex).join(''), 'latin1'));
  const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
  const strip = (s: string) => (s.startsWith('/') ? s.slice(1) : s);
  // push_rest(): the name, then padding counted from the header's start
  const rest = (name: Buffer) => {
    push(name);
    pad(padlen(name.length + HDR, 4));
  };
  const types: Record<string, number> = { dir: 0o040000, pipe: 0o010000, sock: 0o140000 };

  for (const line of list.split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const [type, ...a] = line.trim().split(/\s+/);
    if (type === 'slink') {
      const [name, target, mode, uid, gid] = a;
      const n = cstr(strip(name));
      const t = cstr(target);
      header({ ino: ino++, mode: 0o120000 | parseInt(mode, 8), uid: +uid, gid: +gid, nlink: 1, size: t.length, namesize: n.length });
      push(n);
      pad(padlen(offset, 4));
      push(t);
      pad(padlen(offset, 4));
    } else if (type in types) {
      const [name, mode, uid, gid] = a;
      const n = cstr(strip(name));
      header({ ino: ino++, mode: types[type] | parseInt(mode, 8), uid: +uid, gid: +gid, nlink: 2, size: 0, namesize: n.length });
      rest(n);
    } else if (type === 'nod') {
      const [name, mode, uid, gid, dev, maj, min] = a;
      const n = cstr(strip(name));
      header({ ino: ino++, mode: (dev === 'b' ? 0o060000 : 0o020000) | parseInt(mode, 8), uid: +uid, gid: +gid, nlink: 1, size: 0, rmaj: +maj, rmin: +min, namesize: n.length });
      rest(n);
    } else if (type === 'file') {
      const [name, location, mode, uid, gid, ...links] = a;
      const data = readFileSync(location);
      let csum = 0;
      if (opts.csum) for (const b of data) csum = (csum + b) >>> 0;
      const names = [name, ...links];
      names.forEach((nm, i) => {
        const n = cstr(strip(nm));
        const size = i === names.length - 1 ? data.length : 0;
        let namepad = 0;
        if (opts.align && size > opts.align) {
          namepad = padlen(offset + HDR + n.length, opts.align);
          if (n.length + namepad > PATH_MAX) namepad = 0;
        }
        header({ ino, mode: 0o100000 | parseInt(mode, 8), uid: +uid, gid: +gid, nlink: names.length, size, namesize: n.length + namepad, csum: size ? csum : 0 });
        push(n);
        pad(namepad || padlen(offset, 4));
        if (size) {
          push(data);
          pad(padlen(offset, 4));
        }
      });
      ino++;
    } else throw new Error(`gen-init-cpio: unknown list line ${JSON.stringify(line)}`);
  }
  const t = cstr('TRAILER!!!');
  header({ ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, size: 0, namesize: t.length }, 0, [0, 0]);
  rest(t);
  pad(padlen(offset, 512));
  return Buffer.concat(parts);
}
