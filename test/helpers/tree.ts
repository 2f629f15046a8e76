import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Everything `cpio -idm` restores about one path, in a form two trees can be compared by. */
export interface NodeFacts {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
  /** Index of the hard-link group, when nlink > 1. */
  linkGroup?: string;
}

/**
 * Snapshot of a tree: path -> facts. Directory and symlink mtimes are
 * included only if asked, since tools differ on whether they restore them.
 */
export function snapshot(root: string, opts: { dirMtimes?: boolean; symlinkMtimes?: boolean } = {}): Map<string, NodeFacts> {
  const out = new Map<string, NodeFacts>();
  const inodeNames = new Map<number, string>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'socket';
    const f: NodeFacts = { type, mode: st.mode, uid: st.uid, gid: st.gid };
    if (type === 'file') {
      f.size = st.size;
      f.sha256 = createHash('sha256').update(readFileSync(p)).digest('hex');
      if (st.nlink > 1) {
        const first = inodeNames.get(st.ino) ?? rel;
        inodeNames.set(st.ino, first);
        f.linkGroup = first;
      }
    }
    if (type === 'symlink') f.target = readlinkSync(p);
    if (type === 'char' || type === 'block') f.rdev = st.rdev;
    // GNU cpio restores neither directory nor symlink mtimes; the kernel and rdrescue do.
    if ((type !== 'dir' || opts.dirMtimes) && (type !== 'symlink' || opts.symlinkMtimes)) f.mtime = Math.floor(st.mtimeMs / 1000);
    if (rel) out.set(rel, f);
    if (type === 'dir') for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}

/** Lists differences between two snapshots; empty when equal. Hard-link groups are compared by membership. */
export function diffSnapshots(a: Map<string, NodeFacts>, b: Map<string, NodeFacts>, limit = 20): string[] {
  const d: string[] = [];
  const groups = (m: Map<string, NodeFacts>) => {
    const g = new Map<string, string[]>();
    for (const [k, v] of m) if (v.linkGroup) g.set(v.linkGroup, [...(g.get(v.linkGroup) ?? []), k]);
    return new Map([...m].filter(([, v]) => v.linkGroup).map(([k, v]) => [k, g.get(v.linkGroup!)!.sort().join(',')]));
  };
  const ga = groups(a);
  const gb = groups(b);
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) d.push(`only in first: ${k}`);
    else {
      const { linkGroup: _la, ...va } = v;
      const { linkGroup: _lb, ...vb } = w;
      if (JSON.stringify(va) !== JSON.stringify(vb)) d.push(`differs: ${k}: ${JSON.stringify(va)} vs ${JSON.stringify(vb)}`);
      if ((ga.get(k) ?? '') !== (gb.get(k) ?? '')) d.push(`hard links differ: ${k}: [${ga.get(k) ?? ''}] vs [${gb.get(k) ?? ''}]`);
    }
    if (d.length >= limit) return d;
  }
  for (const k of b.keys()) if (!a.has(k)) d.push(`only in second: ${k}`);
  return d.slice(0, limit);
}
