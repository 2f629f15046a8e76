import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readMountinfo, type MountInfo } from './mounts.js';

/**
 * Where is the rescuer standing, and where is the system they want to fix?
 * Each initramfs generator leaves its own marks and mounts the real root in
 * its own place; see anchors.md "Rescue facts".
 */
export type EnvironmentKind =
  | 'dracut' // rd.break: root at /sysroot
  | 'initramfs-tools' // break=bottom|init: root at /root
  | 'mkinitcpio' // break=postmount: root at /new_root
  | 'init-shell' // init=/bin/bash: the root is /
  | 'host'; // a normal system or a rescue host: the user names the root

export interface Environment {
  kind: EnvironmentKind;
  /** Running inside an initramfs (whose own /etc is never the target). */
  inInitramfs: boolean;
  hostRoot: string;
  /** Where the target root is or will be mounted, when the environment says. */
  targetRoot?: string;
  targetMounted: boolean;
  /** The root= and rootfstype=/rootflags= from the kernel command line. */
  cmdlineRoot?: string;
  cmdlineRootFsType?: string;
  cmdlineRootFlags?: string;
  description: string;
  /** What to do next, when something is missing. */
  hint?: string;
}

export interface DetectOptions {
  /** Root of the rescue environment's own filesystem (tests point this at a fake initramfs tree). */
  hostRoot?: string;
  /** Where proc is mounted (cmdline, mountinfo). */
  procDir?: string;
  environ?: NodeJS.ProcessEnv;
  mounts?: MountInfo[];
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox']);

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function parseCmdline(text: string): Map<string, string> {
  const m = new Map<string, string>();
  // kernel parameters: space separated, double quotes group, `--` ends them
  for (const tok of text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
    if (tok === '--') break;
    const t = tok.replace(/"/g, '');
    const eq = t.indexOf('=');
    m.set(eq < 0 ? t : t.slice(0, eq), eq < 0 ? '' : t.slice(eq + 1));
  }
  return m;
}

/** root=UUID=… and friends as a device path udev would create. */
export function rootDevicePath(spec: string): string {
  const m = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.*)$/.exec(spec);
  if (!m) return spec.startsWith('block:') ? spec.slice(6) : spec;
  const dir = { UUID: 'by-uuid', LABEL: 'by-label', PARTUUID: 'by-partuuid', PARTLABEL: 'by-partlabel' }[m[1] as 'UUID'];
  return `/dev/disk/${dir}/${m[2].replace(/\//g, '\\x2f')}`;
}

function isMountPoint(path: string, mounts: MountInfo[]): boolean {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    /* missing: not mounted */
  }
  return mounts.some((m) => m.mountPoint === real);
}

export function detectEnvironment(opts: DetectOptions = {}): Environment {
  const hostRoot = opts.hostRoot ?? '/';
  const proc = opts.procDir ?? '/proc';
  const environ = opts.environ ?? process.env;
  let mounts = opts.mounts;
  if (!mounts) {
    try {
      mounts = readMountinfo(join(proc, 'self/mountinfo'));
    } catch {
      mounts = [];
    }
  }
  const cmdline = parseCmdline(read(join(proc, 'cmdline')) ?? '');
  const base = {
    hostRoot,
    cmdlineRoot: cmdline.get('root') || undefined,
    cmdlineRootFsType: cmdline.get('rootfstype') || undefined,
    cmdlineRootFlags: cmdline.get('rootflags') || undefined,
  };
  const h = (p: string) => join(hostRoot, p);
  const mountHint = (where: string) => {
    if (!base.cmdlineRoot) return `mount the real root read-only on ${where} first (no root= on the kernel command line to say which device)`;
    const t = base.cmdlineRootFsType ? ` -t ${base.cmdlineRootFsType}` : '';
    const o = ['ro', ...(base.cmdlineRootFlags ? [base.cmdlineRootFlags] : [])].join(',');
    return `mount it from root=${base.cmdlineRoot}: mount${t} -o ${o} ${rootDevicePath(base.cmdlineRoot)} ${where}`;
  };

  const initrd = (kind: EnvironmentKind, rel: string, name: string): Environment => {
    const targetRoot = h(rel);
    const mounted = isMountPoint(targetRoot, mounts!);
    return {
      kind,
      inInitramfs: true,
      ...base,
      targetRoot,
      targetMounted: mounted,
      description: mounted ? `${name}; the real root is mounted on ${targetRoot}` : `${name} before the real root is mounted (pre-mount)`,
      hint: mounted ? undefined : mountHint(targetRoot),
    };
  };

  const initrdRelease = read(h('etc/initrd-release'));
  if (initrdRelease !== undefined || environ.DRACUT_SYSTEMD !== undefined || (environ.NEWROOT !== undefined && existsSync(h('usr/lib/dracut')))) {
    const ver = /^DRACUT_VERSION="?([^"\n]*)"?/m.exec(initrdRelease ?? '')?.[1];
    const newroot = environ.NEWROOT && environ.NEWROOT.startsWith('/') ? environ.NEWROOT.slice(1) : 'sysroot';
    return initrd('dracut', newroot, `dracut${ver ? ` ${ver}` : ''} initramfs (rd.break)`);
  }
  if (existsSync(h('scripts/functions')) && existsSync(h('conf/arch.conf'))) {
    return initrd('initramfs-tools', 'root', 'initramfs-tools initramfs (break=)');
  }
  if (existsSync(h('init_functions'))) {
    return initrd('mkinitcpio', 'new_root', 'mkinitcpio initramfs (break=postmount)');
  }
  const init = cmdline.get('init');
  if (init && SHELLS.has(basename(init))) {
    const procMounted = existsSync(join(proc, 'self'));
    return {
      kind: 'init-shell',
      inInitramfs: false,
      ...base,
      targetRoot: hostRoot,
      targetMounted: true,
      description: `init=${init}: PID 1 is a shell and the real root is ${hostRoot}`,
      hint: procMounted ? undefined : 'mount -t proc proc /proc first',
    };
  }
  return {
    kind: 'host',
    inInitramfs: false,
    ...base,
    targetMounted: false,
    description: 'a running system (or rescue host): no initramfs break and no init= shell',
    hint: 'name the root of the system to rescue with --root DIR (for example the broken disk mounted on /mnt)',
  };
}
