import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseFstab } from '../rescue/fstab.js';
import { parseMountinfo } from '../rescue/mounts.js';
import { resolveInRoot } from '../rescue/target.js';

/** A kernel command line and where it was read. */
export interface CommandLine {
  text: string;
  from: string;
}

/** What the target's root needs from the initramfs to be mounted, with the evidence for each need. */
export interface RootNeeds {
  /** The target root on the host. */
  root: string;
  /** True when the target is the running system, whose sysfs describes the root disk. */
  live: boolean;
  /** The root filesystem's device as written (UUID=…, /dev/mapper/…). */
  device?: string;
  fsType?: string;
  /** fstab's sixth field for /: 0 means no fsck at boot. */
  fsckPass?: number;
  /** Where device and type came from ("/etc/fstab line 3", "root= on the kernel command line", "the mounted /"). */
  from?: string;
  cmdlines: CommandLine[];
  /** Why the root needs LVM, LUKS or md (undefined: it does not, as far as the target tells). */
  lvm?: string;
  luks?: string;
  md?: string;
  /** On a live system: the kernel drivers between the root filesystem and its disk (virtio_blk, virtio_pci, nvme, ahci, sd_mod…). */
  blockDrivers: Array<{ driver: string; device: string }>;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT of /etc/default/grub, unquoted (what grub-mkconfig puts on every entry). */
function grubDefaults(text: string): string {
  const parts: string[] = [];
  for (const m of text.matchAll(/^\s*GRUB_CMDLINE_LINUX(?:_DEFAULT)?=(?:"([^"]*)"|'([^']*)'|(\S*))/gm)) parts.push(m[1] ?? m[2] ?? m[3] ?? '');
  return parts.join(' ').trim();
}

/** The kernel command lines the target boots with: /etc/kernel/cmdline, GRUB's defaults, BLS entries (of this version when it has some), and on a live system /proc/cmdline. */
export function targetCommandLines(root: string, version: string | undefined, live: boolean): CommandLine[] {
  const out: CommandLine[] = [];
  const kernelCmdline = read(resolveInRoot(root, 'etc/kernel/cmdline'));
  if (kernelCmdline?.trim()) out.push({ text: kernelCmdline.trim(), from: '/etc/kernel/cmdline' });
  const grub = read(resolveInRoot(root, 'etc/default/grub'));
  if (grub && grubDefaults(grub)) out.push({ text: grubDefaults(grub), from: '/etc/default/grub' });
  const bls = resolveInRoot(root, 'boot/loader/entries');
  let names: string[] = [];
  try {
    names = readdirSync(bls).filter((n) => n.endsWith('.conf')).sort();
  } catch {
    /* no BLS entries */
  }
  const entries = names.map((n) => ({ n, text: read(join(bls, n)) ?? '' }));
  const mine = entries.filter((e) => version && (new RegExp(`^version\\s+${escape(version)}\\s*$`, 'm').test(e.text) || e.text.includes(`vmlinuz-${version}`)));
  for (const e of mine.length ? mine : entries) {
    const opts = /^options\s+(.*)$/m.exec(e.text)?.[1]?.trim();
    if (opts) out.push({ text: opts, from: `/boot/loader/entries/${e.n}` });
  }
  if (live) {
    const proc = read('/proc/cmdline');
    if (proc?.trim()) out.push({ text: proc.trim(), from: '/proc/cmdline' });
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every value of a parameter on the command lines, with its source; `--` ends the kernel's part. */
export function paramValues(lines: CommandLine[], name: string): Array<{ value: string; from: string }> {
  const out: Array<{ value: string; from: string }> = [];
  for (const l of lines) {
    for (const w of l.text.split(/\s+/)) {
      if (w === '--') break;
      if (w === name || w.startsWith(name + '=')) out.push({ value: w.slice(name.length + 1), from: l.from });
    }
  }
  return out;
}

/** /dev/mapper/VG-LV or /dev/VG/LV: LVM escapes a "-" in a name as "--", so one single "-" separates VG from LV. */
function lvmName(device: string): string | undefined {
  const mapper = /^\/dev\/mapper\/(.+)$/.exec(device)?.[1];
  if (mapper) return /^(?:[^-]|--)+-(?:[^-]|--)+$/.test(mapper) && !mapper.startsWith('luks-') ? mapper : undefined;
  const m = /^\/dev\/([^/]+)\/([^/]+)$/.exec(device);
  return m && !['disk', 'mapper', 'md', 'block', 'char', 'by-uuid'].includes(m[1]) ? `${m[1]}/${m[2]}` : undefined;
}

/** Device names of the target's /etc/crypttab that are unlocked at boot (noauto entries are not). */
function crypttabNames(root: string): string[] {
  const text = read(resolveInRoot(root, 'etc/crypttab')) ?? '';
  return text
    .split('\n')
    .filter((l) => !/^\s*(#|$)/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => !(f[3] ?? '').split(',').includes('noauto'))
    .map((f) => f[0]);
}

/** Walks sysfs from a block device down to its disks (through dm and md slaves and partitions), collecting the drivers on the way and the dm/md kinds met. */
function sysfsBlockFacts(majorMinor: string): { drivers: Array<{ driver: string; device: string }>; dm: string[]; md: boolean } {
  const drivers: Array<{ driver: string; device: string }> = [];
  const dm: string[] = [];
  let md = false;
  const seen = new Set<string>();
  const visit = (blockDir: string) => {
    if (seen.has(blockDir)) return;
    seen.add(blockDir);
    const uuid = read(join(blockDir, 'dm', 'uuid'))?.trim();
    if (uuid) dm.push(uuid);
    if (existsSync(join(blockDir, 'md'))) md = true;
    let slaves: string[] = [];
    try {
      slaves = readdirSync(join(blockDir, 'slaves'));
    } catch {
      /* none */
    }
    for (const s of slaves) visit(realpathSync(join(blockDir, 'slaves', s)));
    if (slaves.length) return;
    // A partition's device is its disk's.
    const disk = existsSync(join(blockDir, 'partition')) ? dirname(blockDir) : blockDir;
    let dev: string;
    try {
      dev = realpathSync(join(disk, 'device'));
    } catch {
      return;
    }
    for (; dev.startsWith('/sys/devices/') && dev !== '/sys/devices'; dev = dirname(dev)) {
      let module: string | undefined;
      try {
        module = basename(readlinkSync(join(dev, 'driver', 'module')));
      } catch {
        try {
          module = basename(readlinkSync(join(dev, 'driver')));
        } catch {
          continue;
        }
      }
      drivers.push({ driver: module, device: `/dev/${basename(disk)} (${dev})` });
    }
  };
  try {
    visit(realpathSync(`/sys/dev/block/${majorMinor}`));
  } catch {
    /* not a block device (overlay, tmpfs, 9p) */
  }
  return { drivers, dm, md };
}

export interface NeedsOptions {
  /** The kernel version, to pick its BLS entries. */
  version?: string;
  /** Treat the target as the running system (sysfs, /proc). Default: root is "/". */
  live?: boolean;
}

/**
 * What the root needs, from the target: the root filesystem's device and
 * type from /etc/fstab (else root=/rootfstype= on the command line, else the
 * mounted / of a live system), LUKS from /etc/crypttab and rd.luks,
 * LVM from the device name and rd.lvm, md from /dev/md* and rd.md, and on a
 * live system the drivers of the root disk from sysfs.
 */
export function rootNeeds(root: string, opts: NeedsOptions = {}): RootNeeds {
  const live = opts.live ?? realpathSync(root) === '/';
  const cmdlines = targetCommandLines(root, opts.version, live);
  const needs: RootNeeds = { root, live, cmdlines, blockDrivers: [] };
  const fstab = read(resolveInRoot(root, 'etc/fstab'));
  const entry = fstab ? parseFstab(fstab).find((e) => e.mountPoint === '/') : undefined;
  const mounted = live ? parseMountinfo(read('/proc/self/mountinfo') ?? '').find((m) => m.mountPoint === '/') : undefined;
  if (entry) Object.assign(needs, { device: entry.spec, fsType: entry.fsType, fsckPass: entry.pass, from: `/etc/fstab line ${entry.line}` });
  else {
    const r = paramValues(cmdlines, 'root').pop();
    const t = paramValues(cmdlines, 'rootfstype').pop();
    if (r) Object.assign(needs, { device: r.value, from: `root= on the kernel command line (${r.from})` });
    if (t) needs.fsType = t.value;
    if (!needs.fsType && mounted) Object.assign(needs, { device: needs.device ?? mounted.source, fsType: mounted.fsType, from: needs.from ?? 'the mounted /, as /etc/fstab has no /' });
  }
  if (needs.fsType === 'auto') needs.fsType = mounted?.fsType;
  const dev = needs.device ?? '';
  const crypt = crypttabNames(root);
  const mapper = /^\/dev\/mapper\/(.+)$/.exec(dev)?.[1];
  const sys = live && mounted ? sysfsBlockFacts(mounted.majorMinor) : undefined;
  if (sys) needs.blockDrivers = sys.drivers;
  // LVM
  const lvOnCmdline = paramValues(cmdlines, 'rd.lvm.lv')[0] ?? paramValues(cmdlines, 'rd.lvm.vg')[0];
  const lvmOff = paramValues(cmdlines, 'rd.lvm').some((v) => v.value === '0');
  if (!lvmOff && mapper && crypt.includes(mapper)) needs.luks = `the root ${dev} is the LUKS mapping ${mapper} of /etc/crypttab`;
  else if (!lvmOff && lvmName(dev)) needs.lvm = `the root ${dev} (${needs.from}) is a logical volume`;
  else if (!lvmOff && lvOnCmdline) needs.lvm = `the kernel command line (${lvOnCmdline.from}) activates LVM: ${lvOnCmdline.value}`;
  else if (!lvmOff && sys?.dm.some((u) => u.startsWith('LVM-'))) needs.lvm = `the mounted / is on a logical volume (sysfs dm/uuid LVM-…)`;
  // LUKS
  const luksOff = paramValues(cmdlines, 'rd.luks').some((v) => v.value === '0');
  const luksParam = [...paramValues(cmdlines, 'rd.luks.uuid'), ...paramValues(cmdlines, 'rd.luks.name'), ...paramValues(cmdlines, 'cryptdevice')][0];
  if (!luksOff && !needs.luks) {
    if (luksParam) needs.luks = `the kernel command line (${luksParam.from}) unlocks ${luksParam.value}`;
    else if (sys?.dm.some((u) => u.startsWith('CRYPT-'))) needs.luks = 'the mounted / is on dm-crypt (sysfs dm/uuid CRYPT-…)';
    else if (crypt.length && (needs.lvm || /^\/dev\/md/.test(dev))) needs.luks = `/etc/crypttab unlocks ${crypt.join(', ')} at boot and the root is on ${needs.lvm ? 'LVM' : 'md'}, which may sit on it`;
  }
  // md
  const mdParam = paramValues(cmdlines, 'rd.md.uuid')[0];
  if (/^\/dev\/md/.test(dev)) needs.md = `the root ${dev} (${needs.from}) is an md array`;
  else if (mdParam) needs.md = `the kernel command line (${mdParam.from}) assembles md ${mdParam.value}`;
  else if (sys?.md) needs.md = 'the mounted / is on an md array (sysfs)';
  return needs;
}
