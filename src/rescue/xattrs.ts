import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RdError } from '../errors.js';

/**
 * Extended attributes (security.selinux, security.ima/evm, trusted.*,
 * user.*) and POSIX ACLs (system.posix_acl_access: the ACL and its mask) of
 * a file, read and written by rdxattr (src/native/xattr-helper.c): Node has
 * no xattr API, and neither getfattr nor python is in an rd.break shell.
 * The build compiles it (freestanding, ~3 KiB) and embeds it in the bundle;
 * at first use it is written to a private 0700 directory under /run (or the
 * temporary directory) and run from there, with an empty environment.
 * Values are kept as hex: they are binary (an ACL, an IMA hash).
 */
export type Xattrs = Record<string, string>;

/** Set by scripts/build.mjs: the helper as base64, and the architecture it was built for. */
declare const __RDRESCUE_XATTR_HELPER__: { arch: string; base64: string } | undefined;

export const ACL_ACCESS = 'system.posix_acl_access';
export const SELINUX_XATTR = 'security.selinux';

function helperBytes(): Buffer | undefined {
  if (typeof __RDRESCUE_XATTR_HELPER__ !== 'undefined') return __RDRESCUE_XATTR_HELPER__.arch === process.arch ? Buffer.from(__RDRESCUE_XATTR_HELPER__.base64, 'base64') : undefined;
  // run from source (tests, tsx): the copy `node scripts/build.mjs --bundle-only` compiled
  try {
    return readFileSync(join(import.meta.dirname, '..', '..', 'dist', `rdxattr-${process.arch}`));
  } catch {
    return undefined;
  }
}

let helper: { path?: string; why?: string } | undefined;

/** Where the helper runs from, written on first use; undefined with the reason when it cannot be. */
function helperPath(): { path?: string; why?: string } {
  if (helper) return helper;
  const bytes = helperBytes();
  if (!bytes) return (helper = { why: `rdrescue carries no xattr helper for ${process.arch}` });
  let why = '';
  // /run is a tmpfs in an initramfs and on a rescue host alike; a noexec one makes us try the next
  for (const base of ['/run', tmpdir()]) {
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(base, 'rdrescue-'));
      const path = join(dir, 'rdxattr');
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o700);
      try {
        writeSync(fd, bytes);
      } finally {
        closeSync(fd);
      }
      const probe = spawnSync(path, [], { env: {}, stdio: 'ignore' });
      if (probe.error) throw probe.error;
      process.on('exit', () => rmSync(dir!, { recursive: true, force: true }));
      return (helper = { path });
    } catch (e) {
      why = `${why ? `${why}; ` : ''}${base}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  return (helper = { why: `cannot run the xattr helper (${why})` });
}

/** Why extended attributes cannot be kept here, or undefined when they can. */
export function xattrsUnavailable(): string | undefined {
  return helperPath().why;
}

function run(op: 'get' | 'set' | 'add', path: string, input?: string): { stdout: string; errors: string[] } {
  const h = helperPath();
  if (!h.path) throw new RdError(h.why!, { file: path });
  const r = spawnSync(h.path, [op, path], { env: {}, input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new RdError(`cannot run the xattr helper: ${r.error.message}`, { file: path });
  const errors = r.stderr.split('\n').filter(Boolean);
  if (r.status !== 0 && errors.length === 0) errors.push(`rdxattr: ${op} ${path}: exit status ${r.status}`);
  return { stdout: r.stdout, errors };
}

/** Every extended attribute of `path` (not following a link), or undefined when the helper cannot run here. */
export function readXattrs(path: string): Xattrs | undefined {
  if (xattrsUnavailable()) return undefined;
  const r = run('get', path);
  if (r.errors.length) throw new RdError(`cannot read extended attributes: ${r.errors[0]}`, { file: path });
  const out: Xattrs = {};
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) out[line.slice(0, sp)] = line.slice(sp + 1);
  }
  return out;
}

/**
 * Makes `path`'s extended attributes exactly `xattrs` (a default ACL the new
 * inode inherited and the host's own label removed), or with `exact` false
 * only adds them. Returns the names that could not be set, with the helper's
 * line for each; the caller decides what that means.
 */
export function writeXattrs(path: string, xattrs: Xattrs, exact = true): Array<{ name: string; error: string }> {
  const input = Object.entries(xattrs)
    .map(([n, v]) => `${n} ${v}\n`)
    .join('');
  const r = run(exact ? 'set' : 'add', path, input);
  return r.errors.map((error) => ({ name: /^rdxattr: set .*?: ([^:\s]+): /.exec(error)?.[1] ?? '', error }));
}

/** "security.selinux=system_u:object_r:shadow_t:s0" and "ACL" for people; other values are binary and named only. */
export function describeXattrs(x: Xattrs): string {
  return Object.keys(x)
    .map((n) => (n === SELINUX_XATTR ? `label ${Buffer.from(x[n], 'hex').toString('latin1').replace(/\0$/, '')}` : n === ACL_ACCESS ? 'ACL' : n))
    .join(', ');
}
