import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { readSys as read } from './block-devices.js';

/** A process whose mount namespace still has a filesystem mounted. */
export interface NamespaceHolder {
  pid: number;
  /** Its command name (/proc/PID/comm). */
  command: string;
}

/**
 * Processes in other mount namespaces than ours that have a filesystem of
 * `device` mounted, one process per namespace. A namespace made while the
 * device was mounted (a service with PrivateTmp, an unshare) keeps its own
 * copy of the mount after we unmount ours, and the filesystem lives on until
 * that namespace ends. Empty when nothing holds it, or when /proc or sysfs
 * cannot tell.
 */
export function holdersElsewhere(device: string): NamespaceHolder[] {
  const majMin = read(`/sys/class/block/${basename(resolve(device))}/dev`);
  const ours = link('/proc/self/ns/mnt');
  if (!majMin || !ours) return [];
  const seen = new Set([ours]);
  const holders: NamespaceHolder[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    // Processes come and go while we look: one that is gone holds nothing.
    const ns = link(`/proc/${name}/ns/mnt`);
    if (!ns || seen.has(ns)) continue;
    seen.add(ns);
    const table = read(`/proc/${name}/mountinfo`) ?? '';
    // The third field of a mountinfo line is the device's major:minor (proc(5)).
    if (table.split('\n').some((line) => line.split(' ', 3)[2] === majMin)) {
      holders.push({ pid: Number(name), command: read(`/proc/${name}/comm`) ?? '?' });
    }
  }
  return holders;
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function resolve(device: string): string {
  try {
    return realpathSync(device);
  } catch {
    return device;
  }
}
