import { statSync } from 'node:fs';
import { RdError } from '../errors.js';
import { openContainer, type Container } from './container.js';
import { normalizeName } from './names.js';
import { readImage, type ReadOptions } from './read.js';
import type { Segment } from './segment.js';
import { xzCheckWarnings, type ImageWarning } from './xz-check.js';

export type Generator = 'dracut' | 'initramfs-tools' | 'mkinitcpio';

export interface ImageInfo {
  file: string;
  size: number;
  /** What the file is: a plain initramfs, a UKI (its sections, profiles, addons) or a kernel with a built-in initramfs. */
  container: Omit<Container, 'parts'> & { parts: Array<{ label?: string; file: string; offset: number; length: number }> };
  segments: Segment[];
  entries: number;
  kernelVersions: string[];
  generator?: { name: Generator; version?: string };
  microcode: Array<{ vendor: 'Intel' | 'AMD'; segment: number; size: number }>;
  largestDirectories: Array<{ path: string; bytes: number }>;
  modules: string[];
  dracutModules?: string[];
  bootScripts?: string[];
  mkinitcpioHooks?: string[];
  /** What rdrescue reads but the kernel would not boot as intended (e.g. an xz check the kernel refuses). */
  warnings: ImageWarning[];
  /** With `partial`: the error that stopped reading; everything above describes what came before it. */
  stopped?: string;
}

export interface InfoOptions extends ReadOptions {
  /** Report what could be read when reading stops at damage (in `stopped`) instead of throwing. */
  partial?: boolean;
}

/** Small files whose content tells what made the image. */
const MARKERS = new Set([
  'usr/lib/dracut/modules.txt',
  'usr/lib/dracut/build-parameter.txt',
  'usr/lib/initrd-release',
  'etc/initrd-release',
  'conf/initramfs.conf',
  'VERSION',
  'config',
]);
const MODULE_RE = /\/([^/]+\.ko(?:\.(?:xz|zst|gz))?)$/;
const KVER_RE = /^(?:usr\/)?lib\/modules\/([^/]+)(?:\/|$)/;

/** What `lsinitcpio -a` tells, for any image the kernel boots. One pass over the image. */
export async function imageInfo(image: string, opts: InfoOptions = {}): Promise<ImageInfo> {
  const segments: Segment[] = [];
  const kvers = new Set<string>();
  const modules = new Set<string>();
  const dirBytes = new Map<string, number>();
  const microcode: ImageInfo['microcode'] = [];
  const markers = new Map<string, string>();
  const names = new Set<string>();
  const scripts: string[] = [];
  const hooks: string[] = [];
  let entries = 0;
  const container = await openContainer(image, opts);
  let stopped: string | undefined;
  let current: Segment | undefined;
  try {
    for await (const ev of readImage(image, { ...opts, container })) {
      if (ev.kind === 'segment') {
        segments.push(ev.segment);
        continue;
      }
      current = ev.segment;
      entries++;
      const e = ev.entry;
      const rel = normalizeName(e.name);
      names.add(rel);
      const kv = KVER_RE.exec(rel);
      if (kv) kvers.add(kv[1]);
      if (e.type !== 'file') continue;
      const m = MODULE_RE.exec(rel);
      if (m) modules.add(m[1].replace(/\.ko(\..*)?$/, ''));
      // Sizes of files directly inside each directory (du -S): ancestors would otherwise top every list.
      const slash = rel.lastIndexOf('/');
      const dir = slash < 0 ? '.' : rel.slice(0, slash);
      dirBytes.set(dir, (dirBytes.get(dir) ?? 0) + e.size);
      if (rel === 'kernel/x86/microcode/GenuineIntel.bin') microcode.push({ vendor: 'Intel', segment: ev.segment.index, size: e.size });
      if (rel === 'kernel/x86/microcode/AuthenticAMD.bin') microcode.push({ vendor: 'AMD', segment: ev.segment.index, size: e.size });
      if (/^scripts\/[^/]+\/[^/]+$/.test(rel) && !rel.endsWith('/ORDER')) scripts.push(rel.slice('scripts/'.length));
      if (/^hooks\/[^/]+$/.test(rel)) hooks.push(rel.slice('hooks/'.length));
      if (MARKERS.has(rel) && e.size > 0 && e.size < 65536) {
        const chunks: Buffer[] = [];
        for await (const c of ev.body()) chunks.push(Buffer.from(c));
        markers.set(rel, Buffer.concat(chunks).toString('utf8'));
      }
    }
  } catch (err) {
    if (!opts.partial || !(err instanceof RdError)) throw err;
    stopped = err.message;
    // A decoder failing inside a marker file's data stops before the segment event.
    if (current && !segments.includes(current)) {
      current.damage = { offset: err.where.offset, message: err.message, cpioBytes: current.uncompressedBytes };
      segments.push(current);
    }
  }
  const { size } = statSync(image);
  const info: ImageInfo = {
    file: image,
    size,
    container: { ...container, parts: container.parts.map(({ bytes: _, ...p }) => p) },
    segments,
    entries,
    kernelVersions: [...kvers].sort(),
    microcode,
    largestDirectories: [...dirBytes]
      .map(([path, bytes]) => ({ path, bytes }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 10),
    modules: [...modules].sort(),
    warnings: xzCheckWarnings(image, segments),
  };
  if (stopped) info.stopped = stopped;
  const release = markers.get('usr/lib/initrd-release') ?? markers.get('etc/initrd-release') ?? '';
  if (markers.has('usr/lib/dracut/modules.txt') || names.has('usr/lib/dracut') || /DRACUT/.test(release)) {
    const v = /^DRACUT_VERSION="?([^"\n]+)"?/m.exec(release)?.[1] ?? /^VERSION_ID="?([^"\n]+)"?/m.exec(release)?.[1];
    info.generator = { name: 'dracut', version: v };
    const mods = markers.get('usr/lib/dracut/modules.txt');
    if (mods) info.dracutModules = mods.split('\n').map((l) => l.trim()).filter(Boolean);
  } else if (names.has('conf/initramfs.conf') || names.has('scripts/functions')) {
    info.generator = { name: 'initramfs-tools' };
    info.bootScripts = scripts.sort();
  } else if (names.has('init_functions') || (names.has('hooks') && names.has('VERSION'))) {
    info.generator = { name: 'mkinitcpio', version: markers.get('VERSION')?.trim() };
    const cfg = markers.get('config') ?? '';
    const h = /^HOOKS=\(?"?([^)"\n]*)/m.exec(cfg)?.[1];
    info.mkinitcpioHooks = h ? h.trim().split(/\s+/) : hooks.sort();
  }
  return info;
}
