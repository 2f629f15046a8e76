/**
 * The seven types the kernel creates, and `unknown` for type bits that are
 * none of them: such an entry is listed (cpio -tv shows `?`) and never created.
 */
export type EntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'unknown';

export interface Entry {
  /** The name exactly as stored (no leading slash added or removed). */
  name: string;
  type: EntryType;
  /** Full st_mode: type bits plus permissions, setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Bytes of data stored for this entry (0 for all but the last name of a hard-link group). */
  size: number;
  ino: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  /** crc format only: the stored checksum (sum of data bytes). */
  check: number;
  /** Symlink target, read from the data. */
  target?: string;
  /** The target's bytes, present only when they are not valid UTF-8 (`target` is then lossy). */
  rawTarget?: Buffer;
}

export const S_IFMT = 0o170000;
const TYPE_BITS: ReadonlyArray<readonly [number, EntryType]> = [
  [0o140000, 'socket'],
  [0o120000, 'symlink'],
  [0o100000, 'file'],
  [0o060000, 'block'],
  [0o040000, 'dir'],
  [0o020000, 'char'],
  [0o010000, 'fifo'],
];

// Lookups, not loops over TYPE_BITS: a listing calls typeOfMode for every entry, mostly before V8 optimises it,
// and the loop's iterator objects were garbage the whole listing paid for in collections.
const TYPE_OF_BITS = new Map<number, EntryType>(TYPE_BITS);
const BITS_OF_TYPE = new Map<EntryType, number>(TYPE_BITS.map(([bits, t]) => [t, bits]));

export function typeOfMode(mode: number): EntryType {
  return TYPE_OF_BITS.get(mode & S_IFMT) ?? 'unknown';
}

export function modeBitsOfType(t: EntryType): number {
  const bits = BITS_OF_TYPE.get(t);
  if (bits === undefined) throw new Error(`unknown entry type ${t}`);
  return bits;
}

/** `ls -l` style mode string, e.g. `-rwsr-xr-x`. */
export function modeString(mode: number): string {
  const t = typeOfMode(mode);
  const c = { file: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's', unknown: '?' }[t];
  const rwx = (v: number, special: boolean, sChar: string) =>
    (v & 4 ? 'r' : '-') + (v & 2 ? 'w' : '-') + (special ? (v & 1 ? sChar : sChar.toUpperCase()) : v & 1 ? 'x' : '-');
  return (
    c +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}
