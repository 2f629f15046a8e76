import { lstatSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { mountOf, type MountInfo } from './mounts.js';
import { readTargetText, resolveInRoot } from './target.js';

/** What a target root is: its mount, OS, SELinux mode and init system. */
export interface TargetFacts {
  root: string;
  mount?: { mountPoint: string; device: string; fsType: string; readOnly: boolean };
  os?: { id?: string; name?: string; prettyName?: string; versionId?: string };
  selinux: SelinuxState;
  init?: string;
}

export interface SelinuxState {
  /** 'none': the target has no etc/selinux/config. */
  mode: 'enforcing' | 'permissive' | 'disabled' | 'none';
  type?: string;
  /** SELinux is on at next boot, so a file replaced from outside (label lost) needs a relabel. */
  relabelNeeded: boolean;
}

/** KEY=value files (os-release, selinux/config), quotes removed. */
export function parseKeyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (r) m.set(r[1], r[2].replace(/^(["'])(.*)\1$/, '$2'));
  }
  return m;
}

export function selinuxState(root: string): SelinuxState {
  const text = readTargetText(root, 'etc/selinux/config');
  if (text === undefined) return { mode: 'none', relabelNeeded: false };
  const kv = parseKeyValues(text);
  const v = (kv.get('SELINUX') ?? '').toLowerCase();
  // a config without a valid SELINUX= line: the kernel's default policy load applies, so assume on
  const mode = v === 'disabled' || v === 'permissive' || v === 'enforcing' ? v : 'enforcing';
  return { mode, type: kv.get('SELINUXTYPE'), relabelNeeded: mode !== 'disabled' };
}

/** The init system, from what sbin/init (or the usual alternatives) resolves to inside the target. */
export function initSystem(root: string): string | undefined {
  for (const rel of ['sbin/init', 'usr/sbin/init', 'usr/lib/systemd/systemd', 'lib/systemd/systemd']) {
    let chain = rel;
    const path = resolveInRoot(root, rel);
    try {
      lstatSync(resolveInRoot(root, rel, false)); // a dangling link still names the init system
    } catch {
      continue;
    }
    try {
      chain += ` -> ${readlinkSync(resolveInRoot(root, rel, false))}`;
    } catch {
      /* not a link */
    }
    if (/systemd/.test(chain)) return 'systemd';
    if (/openrc/.test(chain)) return 'openrc';
    if (/runit/.test(chain)) return 'runit';
    if (/busybox/.test(chain)) return 'busybox';
    if (rel.startsWith('sbin/init') || rel.startsWith('usr/sbin/init')) return basename(path) === 'init' ? 'sysvinit' : basename(path);
  }
  return undefined;
}

export function describeTarget(root: string, mounts?: MountInfo[]): TargetFacts {
  const m = mountOf(root, mounts);
  const osText = readTargetText(root, 'etc/os-release') ?? readTargetText(root, 'usr/lib/os-release');
  const os = osText === undefined ? undefined : parseKeyValues(osText);
  return {
    root,
    mount: m && { mountPoint: m.mountPoint, device: m.source, fsType: m.fsType, readOnly: m.readOnly },
    os: os && { id: os.get('ID'), name: os.get('NAME'), prettyName: os.get('PRETTY_NAME'), versionId: os.get('VERSION_ID') },
    selinux: selinuxState(root),
    init: initSystem(root),
  };
}
