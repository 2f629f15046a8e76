import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeExt4Root, type Ext4Options, type Ext4Root } from '../helpers/ext4.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'rescue');
/** Passwords of the fixture accounts (fixtures/rescue/README.md). */
export const OLD_ROOT_PASSWORD = 'oldpass';

/** RHEL-like root: shadow mode 0000, SELinux enforcing. */
export function rhelRoot(t: { teardown(fn: () => void): void }, extra: Partial<Ext4Options> = {}): Ext4Root {
  const r = makeExt4Root({ tree: join(FIXTURES, 'rhel'), files: { 'etc/shadow': { mode: 0 } }, ...extra });
  t.teardown(() => r.cleanup());
  return r;
}

/** Debian-like root: shadow root:shadow 0640, no SELinux. */
export function debianRoot(t: { teardown(fn: () => void): void }, extra: Partial<Ext4Options> = {}): Ext4Root {
  const r = makeExt4Root({ tree: join(FIXTURES, 'debian'), files: { 'etc/shadow': { mode: 0o640, uid: 0, gid: 42 } }, ...extra });
  t.teardown(() => r.cleanup());
  return r;
}

/** Whether the system's crypt(3) (libxcrypt, through perl) accepts `password` for `hash`. */
export function systemCryptVerifies(password: string, hash: string): boolean {
  const r = spawnSync('perl', ['-e', 'binmode STDIN; local $/; my $p = <STDIN>; print crypt($p, $ARGV[0]) eq $ARGV[0] ? "yes" : "no"', hash], { input: password, encoding: 'utf8' });
  return r.stdout === 'yes';
}

export function shadowLine(text: string, user: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no ${user} in shadow`);
  return line.split(':');
}

export function isReadOnly(mnt: string): boolean {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt);
  if (!line) throw new Error(`${mnt} not mounted`);
  return line.split(' ')[5].split(',').includes('ro');
}

export function today(): number {
  return Math.floor(Date.now() / 86_400_000);
}
