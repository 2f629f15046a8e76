import type { Volume } from './block-devices.js';

/**
 * Which volume an fstab (or root=) device spec names, without udev.
 *
 * API (also used by `chroot` for the target's fstab mounts):
 *   import { systemVolumes } from './block-devices.js';
 *   import { resolveSpec } from './resolve.js';
 *   const r = resolveSpec('UUID=…', systemVolumes());   // or the volumes of one disk (readDiskLayout(path).volumes)
 *   r?.volume.device  // the node to mount (undefined while an image partition is not attached)
 *   r?.by             // how it matched: 'UUID', 'LABEL', 'PARTUUID', 'PARTLABEL', 'path' or 'partition number'
 *   r?.note           // said when the match is a guess the user should know about
 *
 * Specs understood: UUID=, LABEL=, PARTUUID=, PARTLABEL= (quoted or not),
 * /dev/disk/by-uuid|by-label|by-partuuid|by-partlabel/NAME (udev's \x2f
 * escapes), /dev/mapper/VG-LV and /dev/VG/LV (through each volume's
 * aliases), and plain device names.
 */
export type SpecKind = 'UUID' | 'LABEL' | 'PARTUUID' | 'PARTLABEL' | 'path';

export interface Spec {
  kind: SpecKind;
  value: string;
}

export interface Resolution {
  volume: Volume;
  by: SpecKind | 'partition number';
  note?: string;
}

const BY_DIR: Record<string, SpecKind> = { 'by-uuid': 'UUID', 'by-label': 'LABEL', 'by-partuuid': 'PARTUUID', 'by-partlabel': 'PARTLABEL' };

/** udev escapes "/" and other unsafe bytes in by-label names as \xHH. */
function unescapeUdev(name: string): string {
  return name.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export function parseSpec(spec: string): Spec {
  const tag = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.*)$/.exec(spec);
  if (tag) return { kind: tag[1] as SpecKind, value: tag[2].replace(/^"(.*)"$/, '$1') };
  const by = /^\/dev\/disk\/(by-uuid|by-label|by-partuuid|by-partlabel)\/([^/]+)$/.exec(spec);
  if (by) return { kind: BY_DIR[by[1]], value: unescapeUdev(by[2]) };
  return { kind: 'path', value: spec.replace(/\/+$/, '') };
}

/** The names device-mapper gives an LV: /dev/mapper doubles each "-" inside a name. */
export function lvNames(vg: string, lv: string): string[] {
  const dm = (s: string) => s.replace(/-/g, '--');
  return [`/dev/mapper/${dm(vg)}-${dm(lv)}`, `/dev/${vg}/${lv}`];
}

const PARTITION_NAME = /^\/dev\/(?:[sv]d[a-z]+|xvd[a-z]+|hd[a-z]+|(?:nvme\d+n\d+|mmcblk\d+|loop\d+)p)(\d+)$/;

/**
 * The volume `spec` names among `volumes`. A plain partition name like
 * /dev/sda2 means what the target saw when it booted, not this host's
 * sda; with `partitionNumbers` it is taken as that partition number of
 * the disk being rescued, and said so.
 */
export function resolveSpec(spec: string, volumes: Volume[], opts: { partitionNumbers?: boolean } = {}): Resolution | undefined {
  const s = parseSpec(spec);
  const eq = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();
  const pick = (by: SpecKind, match: (v: Volume) => boolean): Resolution | undefined => {
    const v = volumes.find(match);
    return v && { volume: v, by };
  };
  switch (s.kind) {
    case 'UUID':
      return pick('UUID', (v) => eq(v.uuid, s.value));
    case 'PARTUUID':
      return pick('PARTUUID', (v) => eq(v.partUuid, s.value));
    case 'LABEL':
      return pick('LABEL', (v) => v.label === s.value);
    case 'PARTLABEL':
      return pick('PARTLABEL', (v) => v.partLabel === s.value);
    case 'path': {
      const exact = pick('path', (v) => v.device === s.value || v.aliases.includes(s.value));
      if (exact || !opts.partitionNumbers) return exact;
      const n = PARTITION_NAME.exec(s.value);
      const v = n ? volumes.find((x) => x.partNumber === Number(n[1])) : undefined;
      return v && { volume: v, by: 'partition number', note: `${spec} is a kernel name from the target's own boot; taken as partition ${n![1]} of the disk being rescued` };
    }
  }
}
