import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { rootDevicePath } from './env.js';
import { systemVolumes, type Volume } from '../host/block-devices.js';
import { resolveSpec } from '../host/resolve.js';
import { mountOf, readMountinfo, unescapeOctal, type MountInfo } from './mounts.js';
import { applyPlan, type ApplyOptions, type ApplyResult, type Plan } from './plan.js';
import { findProgram } from './programs.js';
import { withLabels } from './labels.js';
import { remountIfReadOnly } from './relabel.js';
import { resolveInRoot } from './target.js';

/**
 * The target's /etc/fstab: what would stop its boot, and the two usual
 * fixes (comment the entry out, or add nofail). Lines are edited as bytes
 * in place, so every other byte of the file stays as the admin wrote it.
 */
export const FSTAB = '/etc/fstab';
export const FSTAB_BACKUP = '/etc/fstab.rdrescue.bak';

export interface FstabEntry {
  /** 1-based line number. */
  line: number;
  spec: string;
  mountPoint: string;
  fsType: string;
  options: string[];
  problems: string[];
  /** A problem on an entry without nofail/noauto: systemd stops in emergency mode. */
  blocksBoot: boolean;
}

interface RawLine {
  text: string;
  /** Start and end offset of each whitespace-separated field within text. */
  fields: Array<[number, number]>;
}

function splitLines(text: string): RawLine[] {
  return text.split('\n').map((t) => {
    const fields: Array<[number, number]> = [];
    if (!/^\s*(#|$)/.test(t)) for (const m of t.matchAll(/\S+/g)) fields.push([m.index!, m.index! + m[0].length]);
    return { text: t, fields };
  });
}

function field(l: RawLine, i: number): string {
  return l.fields[i] ? l.text.slice(l.fields[i][0], l.fields[i][1]) : '';
}

/** The active lines of an fstab as written: spec and mount point unescaped, options split, pass number (0 when absent). */
export function parseFstab(text: string): Array<{ line: number; spec: string; mountPoint: string; fsType: string; options: string[]; pass: number }> {
  return splitLines(text).flatMap((l, i) =>
    l.fields.length ? [{ line: i + 1, spec: unescapeOctal(field(l, 0)), mountPoint: unescapeOctal(field(l, 1)), fsType: field(l, 2), options: (field(l, 3) || 'defaults').split(','), pass: Number(field(l, 5)) || 0 }] : [],
  );
}

export interface FstabCheckOptions {
  /** Where device nodes and /dev/disk/by-* are (the rescue system's). */
  devDir?: string;
  /** Where /proc/filesystems is. */
  procDir?: string;
  /** Ask blkid when /dev/disk/by-* has no answer (default: when blkid exists). */
  useBlkid?: boolean;
  /** The mount table (default: /proc/self/mountinfo). */
  mounts?: MountInfo[];
}

const VIRTUAL = new Set(['proc', 'sysfs', 'tmpfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'securityfs', 'debugfs', 'tracefs', 'mqueue', 'hugetlbfs', 'efivarfs', 'pstore', 'bpf', 'configfs', 'fusectl', 'ramfs', 'binfmt_misc', 'overlay', 'none']);
const NETWORK = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'sshfs', 'glusterfs', 'ceph', '9p', 'virtiofs', 'davfs']);

function readFsTypes(procDir: string): Set<string> {
  try {
    return new Set(readFileSync(join(procDir, 'filesystems'), 'utf8').split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean));
  } catch {
    return new Set();
  }
}

/** Filesystem modules any kernel in the target could load (modules.dep and modules.builtin of each lib/modules/VERSION). */
function targetFsModules(root: string): Set<string> {
  const mods = new Set<string>();
  for (const base of ['/lib/modules', '/usr/lib/modules']) {
    let vers: string[] = [];
    try {
      vers = readdirSync(resolveInRoot(root, base));
    } catch {
      continue;
    }
    for (const v of vers) {
      for (const f of ['modules.dep', 'modules.builtin']) {
        let text = '';
        try {
          text = readFileSync(resolveInRoot(root, `${base}/${v}/${f}`), 'utf8');
        } catch {
          continue;
        }
        for (const m of text.matchAll(/\/fs\/(?:[^\s:]*\/)?([^/\s:]+)\.ko(?:\.\w+)?(?::|$)/gm)) mods.add(m[1]);
      }
    }
  }
  return mods;
}

/**
 * Whether the entry's device is there. The filesystem holding the target
 * (its "/" line), and any entry whose mount point in the target is mounted
 * right now, are there by the kernel's own word (/proc/self/mountinfo),
 * whatever /dev/disk/by-* says: a container or an initramfs without udev
 * has none, and saying the mounted root is missing sends people to disable it.
 */
function deviceFound(root: string, spec: string, mountPoint: string, devDir: string, useBlkid: boolean, mounts: MountInfo[], volumes: { list?: Volume[] }): string | undefined {
  if (mountPoint === '/') {
    const m = mountOf(root, mounts);
    if (m) return `mounted: the filesystem holding the target (${m.majorMinor}, ${m.source})`;
  }
  if (mountPoint.startsWith('/')) {
    const here = resolveInRoot(root, mountPoint);
    const m = mounts.filter((x) => x.mountPoint === here).pop();
    if (m) return `mounted at ${here} (${m.majorMinor}, ${m.source})`;
  }
  const path = rootDevicePath(spec).replace(/^\/dev\//, `${devDir}/`);
  if (existsSync(path)) return 'found';
  const tag = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.*)$/.exec(spec);
  if (devDir === '/dev' && resolveSpec(spec, (volumes.list ??= systemVolumes()))) return 'found';
  const blkid = useBlkid && tag ? findProgram('blkid') : undefined;
  if (blkid && spawnSync(blkid, ['-l', '-t', spec, '-o', 'device'], { stdio: 'ignore' }).status === 0) return 'found';
  return undefined;
}

export function fstabCheck(root: string, opts: FstabCheckOptions = {}): FstabEntry[] {
  const devDir = opts.devDir ?? '/dev';
  const useBlkid = opts.useBlkid ?? devDir === '/dev';
  const path = resolveInRoot(root, FSTAB);
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    throw new RdError(`the target has no ${FSTAB}`, { file: path }, EXIT.badInput);
  }
  const fsTypes = readFsTypes(opts.procDir ?? '/proc');
  const mounts = opts.mounts ?? readMountinfo();
  const volumes: { list?: Volume[] } = {}; // probed once, at the first device /dev does not name
  let modules: Set<string> | undefined;
  const out: FstabEntry[] = [];
  splitLines(text).forEach((l, i) => {
    if (!l.fields.length) return;
    const spec = unescapeOctal(field(l, 0));
    const mountPoint = unescapeOctal(field(l, 1));
    const fsType = field(l, 2);
    const options = (field(l, 3) || 'defaults').split(',');
    const problems: string[] = [];
    if (l.fields.length < 3) problems.push(`only ${l.fields.length} fields (needs device, mount point, type)`);
    const isSwap = fsType === 'swap';
    const bind = options.includes('bind') || options.includes('rbind');
    const isNet = NETWORK.has(fsType) || /^[^/=]+:/.test(spec) || spec.startsWith('//');
    if (!VIRTUAL.has(fsType) && !bind && !isNet && spec !== 'none') {
      if (/^(UUID|LABEL|PARTUUID|PARTLABEL)=|^\/dev\//.test(spec)) {
        if (!deviceFound(root, spec, mountPoint, devDir, useBlkid, mounts, volumes)) problems.push(`device ${spec} not found`);
      } else if (!spec.startsWith('/')) problems.push(`device ${spec} is not a path or a UUID=/LABEL= tag`);
    }
    if (!isSwap && mountPoint !== 'none' && mountPoint.startsWith('/')) {
      let isDir = false;
      try {
        isDir = statSync(resolveInRoot(root, mountPoint)).isDirectory();
      } catch {
        /* missing */
      }
      if (!isDir) problems.push(`mount point ${mountPoint} does not exist in the target`);
    }
    if (fsType && !['auto', 'swap', 'none'].includes(fsType) && !bind && !VIRTUAL.has(fsType)) {
      const name = fsType.startsWith('fuse.') ? 'fuse' : fsType.replace(/^nfs4$/, 'nfs');
      if (!fsTypes.has(fsType) && !fsTypes.has(name)) {
        modules ??= targetFsModules(root);
        if (!modules.has(name) && !(name.match(/^ext[234]$/) && (modules.has('ext4') || fsTypes.has('ext4')))) {
          problems.push(`filesystem type ${fsType} is not known to this kernel and the target has no module for it`);
        }
      }
    }
    const soft = options.includes('nofail') || options.includes('noauto');
    out.push({ line: i + 1, spec, mountPoint, fsType, options, problems, blocksBoot: problems.length > 0 && !soft });
  });
  return out;
}

/** The one active line mounting `mountPoint` (or none when it is already commented out). */
function findLine(lines: RawLine[], mountPoint: string, path: string): number | undefined {
  const want = mountPoint.length > 1 ? mountPoint.replace(/\/+$/, '') : mountPoint;
  // swap has no mount point ("none"), so an entry may also be named by its device
  const byMountPoint = want === 'none' || want === 'swap' ? [] : lines.flatMap((l, i) => (l.fields.length >= 2 && unescapeOctal(field(l, 1)).replace(/(.)\/+$/, '$1') === want ? [i] : []));
  const hits = byMountPoint.length ? byMountPoint : lines.flatMap((l, i) => (l.fields.length >= 2 && unescapeOctal(field(l, 0)) === mountPoint ? [i] : []));
  if (hits.length > 1) throw new RdError(`${mountPoint} is mounted by ${hits.length} lines (${hits.map((i) => i + 1).join(', ')}); edit it by hand`, { file: path }, EXIT.badInput);
  return hits[0];
}

function isCommentedOut(lines: RawLine[], mountPoint: string): boolean {
  return lines.some((l) => {
    const m = /^\s*#\s*(\S+)\s+(\S+)/.exec(l.text);
    return m !== null && (unescapeOctal(m[2]) === mountPoint || unescapeOctal(m[1]) === mountPoint);
  });
}

function planEdit(root: string, action: string, mountPoint: string, edit: (l: RawLine) => string | undefined, what: string): Plan {
  const path = resolveInRoot(root, FSTAB);

  let before: Buffer;
  try {
    before = readFileSync(path);
  } catch {
    throw new RdError(`the target has no ${FSTAB}`, { file: path }, EXIT.badInput);
  }
  const lines = splitLines(before.toString('latin1'));
  const i = findLine(lines, mountPoint, path);
  if (i === undefined) {
    if (action === 'fstab --disable' && isCommentedOut(lines, mountPoint)) return { action, root, subject: mountPoint, changes: [], notes: [], satisfied: true };
    throw new RdError(`no entry mounts ${mountPoint}`, { file: path }, EXIT.badInput);
  }
  // named by its mount point or by its device: the "/" line is never edited here
  if (unescapeOctal(field(lines[i], 1)).replace(/(.)\/+$/, '$1') === '/') {
    throw new RdError(`${action} ${mountPoint}: refused: line ${i + 1} mounts /; without it the target's boot never remounts the root read-write, and a root that is missing at boot is no fstab problem (the kernel mounted it from root=)`, { file: path }, EXIT.refused);
  }
  const replaced = edit(lines[i]);
  if (replaced === undefined) return { action, root, subject: mountPoint, changes: [], notes: [], satisfied: true };
  const texts = lines.map((l) => l.text);
  texts[i] = replaced;
  const after = Buffer.from(texts.join('\n'), 'latin1');
  return withLabels({
    action,
    root,
    subject: mountPoint,
    changes: [{ path: FSTAB, before, after, backup: FSTAB_BACKUP, description: [`line ${i + 1} (${mountPoint}): ${what}`] }],
    remount: remountIfReadOnly(root),
    notes: [],
    satisfied: false,
  });
}

export function planFstabDisable(root: string, mountPoint: string): Plan {
  return planEdit(root, 'fstab --disable', mountPoint, (l) => `#${l.text}`, 'commented out');
}

export function planFstabNofail(root: string, mountPoint: string): Plan {
  return planEdit(
    root,
    'fstab --nofail',
    mountPoint,
    (l) => {
      if (l.fields.length >= 4) {
        const [s, e] = l.fields[3];
        const opts = l.text.slice(s, e);
        if (opts.split(',').includes('nofail')) return undefined;
        return `${l.text.slice(0, e)},nofail${l.text.slice(e)}`;
      }
      const end = l.fields[l.fields.length - 1][1];
      return `${l.text.slice(0, end)}\tnofail${l.text.slice(end)}`;
    },
    'nofail added: boot goes on without it',
  );
}

export async function fstabDisable(opts: ApplyOptions & { root: string; mountPoint: string }): Promise<ApplyResult> {
  return applyPlan(planFstabDisable(opts.root, opts.mountPoint), opts);
}

export async function fstabNofail(opts: ApplyOptions & { root: string; mountPoint: string }): Promise<ApplyResult> {
  return applyPlan(planFstabNofail(opts.root, opts.mountPoint), opts);
}
