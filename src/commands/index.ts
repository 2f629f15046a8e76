import type { Command } from 'commander';
import { register as info } from './info.js';
import { register as check } from './check.js';
import { register as ls } from './ls.js';
import { register as cat } from './cat.js';
import { register as extract } from './extract.js';
import { register as repack } from './repack.js';
import { register as add } from './add.js';
import { register as diff } from './diff.js';
import { register as deps } from './deps.js';
import { register as mkroot } from './mkroot.js';
import { register as sandbox } from './sandbox.js';
import { register as mount } from './mount.js';
import { register as umount } from './umount.js';
import { register as env } from './env.js';
import { register as remount } from './remount.js';
import { register as chroot } from './chroot.js';
import { register as passwd } from './passwd.js';
import { register as unlock } from './unlock.js';
import { register as relabel } from './relabel.js';
import { register as fstab } from './fstab.js';
import { register as status } from './status.js';
import { register as hash } from './hash.js';
import { register as inject } from './inject.js';
import { register as plan } from './plan.js';
import { register as run } from './run.js';
import { register as completion } from './completion.js';

/**
 * Every subcommand lives in its own file and registers itself here, so the
 * order of `rdrescue --help` is the order of this list.
 */
const registrations: Array<(program: Command) => void> = [info, check, ls, cat, extract, repack, add, diff, deps, mkroot, sandbox, mount, umount, env, remount, chroot, passwd, unlock, relabel, fstab, status, hash, inject, plan, run, completion];

export function registerAll(program: Command): void {
  for (const r of registrations) r(program);
}
