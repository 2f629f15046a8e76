import { openRange } from './byte-source.js';
import { probeVolume, type Volume } from './block-devices.js';
import { readPvMetadataText, volumeGroupOf, type VolumeGroup } from './lvm-metadata.js';
import { lvNames } from './resolve.js';

/**
 * The logical volumes on a disk's LVM physical volumes, without activating
 * anything: an LV laid out in one piece (what an installer makes) is a byte
 * range of its PV, attached as a loop device like a partition. So the
 * target's VG keeps its name and its metadata untouched, whatever VG names
 * and PV UUIDs the rescue host has (both VMs usually come from one image),
 * and no device-mapper is needed.
 */
export interface LogicalVolumes {
  volumes: Volume[];
  notes: string[];
}

export function logicalVolumes(pvs: Volume[]): LogicalVolumes {
  const out: LogicalVolumes = { volumes: [], notes: [] };
  const groups = new Map<string, VolumeGroup>();
  const byId = new Map<string, Volume>();
  for (const pv of pvs) {
    if (pv.type !== 'LVM2_member') continue;
    if (pv.uuid) byId.set(pv.uuid, pv);
    const r = openRange(pv.range.path, pv.range);
    try {
      const text = readPvMetadataText(r);
      const vg = text ? volumeGroupOf(text) : undefined;
      if (vg && !groups.has(vg.name)) groups.set(vg.name, vg);
    } catch (e) {
      out.notes.push(`LVM metadata on ${pv.range.path} at offset ${pv.range.offset} cannot be read: ${(e as Error).message}`);
    } finally {
      r.close();
    }
  }
  for (const vg of groups.values()) {
    for (const lv of vg.lvs) {
      const what = `${vg.name}/${lv.name}`;
      if (lv.unsupported) {
        out.notes.push(`LV ${what} has ${lv.unsupported}; rdrescue mount reads only LVs made of plain linear pieces`);
        continue;
      }
      const missing = lv.pieces.find((p) => !byId.has(p.pvId));
      if (missing) {
        out.notes.push(`LV ${what} lives partly on PV ${missing.pvId}, which is not on this disk`);
        continue;
      }
      if (lv.pieces.length !== 1) {
        out.notes.push(`LV ${what} is in ${lv.pieces.length} pieces (it was extended); rdrescue mount does not join pieces yet`);
        continue;
      }
      const [piece] = lv.pieces;
      const pv = byId.get(piece.pvId)!;
      const v = probeVolume(pv.range.path, { offset: pv.range.offset + piece.offset, size: piece.size });
      out.volumes.push({ ...v, lv: what, aliases: lvNames(vg.name, lv.name) });
    }
  }
  return out;
}
