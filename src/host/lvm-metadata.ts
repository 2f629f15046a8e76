import { FormatError } from '../errors.js';
import type { ByteReader } from './byte-source.js';

/**
 * LVM2's on-disk metadata, read by us: the PV label, the metadata area's
 * circular buffer, and the text in it (the format vgcfgbackup writes). With
 * it, a volume group is known without running LVM, so a host with a VG of
 * the same name, or a clone with the same PV UUIDs, cannot get in the way,
 * and nothing on the target's disk is written.
 */
export type LvmValue = string | number | LvmValue[] | LvmSection;
export interface LvmSection {
  [key: string]: LvmValue;
}

const MDA_MAGIC = ' LVM2 x[5A%r0N*>';

/** The metadata text of the PV on `r` (the newest copy in its first metadata area), or undefined when it has none. */
export function readPvMetadataText(r: ByteReader): string | undefined {
  for (let s = 0; s < 4; s++) {
    const sector = r.read(s * 512, 512);
    if (sector.toString('latin1', 0, 8) !== 'LABELONE' || sector.toString('latin1', 24, 32) !== 'LVM2 001') continue;
    const pvh = s * 512 + sector.readUInt32LE(20);
    // pv_header: uuid[32], device_size, then two lists of (offset, size) ended by zeros: data areas, then metadata areas
    const h = r.read(pvh, 512);
    let at = 40;
    while (at + 16 <= h.length && h.readBigUInt64LE(at) !== 0n) at += 16;
    at += 16;
    if (at + 16 > h.length) return undefined;
    const mdaOffset = Number(h.readBigUInt64LE(at));
    if (mdaOffset === 0) return undefined;
    const mda = r.read(mdaOffset, 512);
    if (mda.toString('latin1', 4, 20) !== MDA_MAGIC) throw new FormatError('LVM metadata area has no mda_header magic', { file: r.range.path, offset: r.range.offset + mdaOffset });
    const mdaSize = Number(mda.readBigUInt64LE(32));
    const textOffset = Number(mda.readBigUInt64LE(40));
    const textSize = Number(mda.readBigUInt64LE(48));
    if (textOffset === 0 || textSize === 0) return undefined;
    // a circular buffer after the 512-byte header: the text may wrap around to its start
    const first = Math.min(textSize, mdaSize - textOffset);
    const text = Buffer.concat([r.read(mdaOffset + textOffset, first), r.read(mdaOffset + 512, textSize - first)]);
    return text.toString('utf8').replace(/\0+$/, '');
  }
  return undefined;
}

/** The metadata text format: `key = value`, `name { … }`, arrays, strings, numbers, `#` comments. */
export function parseLvmText(text: string): LvmSection {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|#[^\n]*|[{}[\]=,]|[^\s{}[\]=,"#]+/g) ?? [];
  let i = 0;
  const next = () => {
    while (i < tokens.length && tokens[i].startsWith('#')) i++;
    return tokens[i++];
  };
  const peek = () => {
    while (i < tokens.length && tokens[i].startsWith('#')) i++;
    return tokens[i];
  };
  const value = (): LvmValue => {
    const t = next();
    if (t === undefined) throw new FormatError('LVM metadata ends inside a value');
    if (t === '[') {
      const arr: LvmValue[] = [];
      while (peek() !== ']') {
        if (peek() === undefined) throw new FormatError('LVM metadata ends inside an array');
        arr.push(value());
        if (peek() === ',') next();
      }
      next();
      return arr;
    }
    if (t.startsWith('"')) return t.slice(1, -1).replace(/\\(.)/g, '$1');
    const n = Number(t);
    return Number.isNaN(n) ? t : n;
  };
  const section = (top: boolean): LvmSection => {
    const out: LvmSection = {};
    for (;;) {
      const key = next();
      if (key === undefined) {
        if (top) return out;
        throw new FormatError('LVM metadata ends inside a section');
      }
      if (key === '}' && !top) return out;
      const op = next();
      if (op === '=') out[key] = value();
      else if (op === '{') out[key] = section(false);
      else throw new FormatError(`LVM metadata: unexpected ${JSON.stringify(op)} after ${JSON.stringify(key)}`);
    }
  };
  return section(true);
}

/** One logical volume as a list of linear pieces on its PVs (a striped segment of one stripe is linear). */
export interface LogicalVolume {
  vg: string;
  name: string;
  /** Each piece: PV id, byte offset within the PV, byte length, in LV order. */
  pieces: Array<{ pvId: string; offset: number; size: number }>;
  /** Why this LV cannot be read piece by piece (thin, raid, cache, several stripes…). */
  unsupported?: string;
}

export interface VolumeGroup {
  name: string;
  /** PV ids (as blkid prints them) of every PV the VG needs. */
  pvIds: string[];
  lvs: LogicalVolume[];
}

function section(v: LvmValue | undefined): LvmSection {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

export function volumeGroupOf(text: string): VolumeGroup | undefined {
  const top = parseLvmText(text);
  const name = Object.keys(top).find((k) => typeof top[k] === 'object' && !Array.isArray(top[k]));
  if (!name) return undefined;
  const vg = section(top[name]);
  const extent = Number(vg.extent_size) * 512;
  const pvs = section(vg.physical_volumes);
  const pvKeyToId = new Map(Object.entries(pvs).map(([k, v]) => [k, String(section(v).id)]));
  const peStart = new Map(Object.entries(pvs).map(([k, v]) => [k, Number(section(v).pe_start) * 512]));
  const lvs: LogicalVolume[] = [];
  for (const [lvName, lvValue] of Object.entries(section(vg.logical_volumes))) {
    const lv = section(lvValue);
    const status = Array.isArray(lv.status) ? lv.status : [];
    if (!status.includes('VISIBLE')) continue;
    const segs = Object.keys(lv)
      .filter((k) => /^segment\d+$/.test(k))
      .map((k) => section(lv[k]))
      .sort((a, b) => Number(a.start_extent) - Number(b.start_extent));
    const out: LogicalVolume = { vg: name, name: lvName, pieces: [] };
    for (const s of segs) {
      const stripes = Array.isArray(s.stripes) ? s.stripes : [];
      if (s.type !== 'striped' || Number(s.stripe_count) !== 1 || stripes.length !== 2) {
        out.unsupported = `a ${s.type === 'striped' ? `${s.stripe_count}-stripe` : String(s.type)} segment`;
        break;
      }
      const pvKey = String(stripes[0]);
      out.pieces.push({ pvId: pvKeyToId.get(pvKey) ?? pvKey, offset: (peStart.get(pvKey) ?? 0) + Number(stripes[1]) * extent, size: Number(s.extent_count) * extent });
    }
    lvs.push(out);
  }
  return { name, pvIds: [...pvKeyToId.values()], lvs };
}
