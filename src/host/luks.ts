import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';
import { findProgram } from '../rescue/programs.js';
import { probeVolume, type Volume } from './block-devices.js';
import type { Holder } from './holder.js';

/**
 * LUKS1 and LUKS2 volumes opened with cryptsetup. The key comes from the
 * terminal, stdin or a key file, and goes to cryptsetup on a pipe: never on
 * a command line. The mapping sits on a writable loop (opening writes
 * nothing), and what is mounted from it goes through a read-only loop on
 * top, so making the disk writable later needs no passphrase again.
 */
export interface LuksKey {
  passphrase?: string;
  keyFile?: string;
}

/**
 * A rescue shell may have no udev running, and libdevmapper then waits
 * forever for udev to make the /dev/mapper node (seen at dracut's rd.break):
 * DM_DISABLE_UDEV makes it create the node itself. The timeout is a last guard.
 */
function cryptsetup(args: string[], input?: string) {
  const p = findProgram('cryptsetup');
  if (!p) throw new RdError('no "cryptsetup" program in PATH; cannot open the LUKS volume', {}, EXIT.failure);
  return spawnSync(p, args, { input: input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DM_DISABLE_UDEV: '1' }, timeout: 180_000 });
}

/** The name the mapping gets: ours, so it never collides with a mapping of the host. */
export function luksMappingName(v: Volume): string {
  return `rdrescue-luks-${(v.uuid ?? String(v.range.offset)).replace(/[^A-Za-z0-9-]/g, '')}`;
}

/** Opens `v`, recording each step in `h`; returns the volume inside, named as systemd names it (luks-UUID). */
export function openLuks(h: Holder, v: Volume, key: LuksKey, what: string): Volume {
  const name = luksMappingName(v);
  if (existsSync(`/dev/mapper/${name}`)) throw new RdError(`${what}: /dev/mapper/${name} is already open (another rdrescue mount?)`, {}, EXIT.refused);
  const carrier = h.attach({ path: v.range.path, offset: v.range.offset, size: v.range.size, readOnly: false }, true);
  h.recordLuks(name);
  const args = ['open', '--type', 'luks', carrier, name, '--key-file', key.keyFile ?? '-'];
  const r = cryptsetup(args, key.keyFile ? undefined : key.passphrase);
  if (r.error) throw new RdError(`${what} (LUKS${v.luksVersion ?? ''}): cryptsetup did not finish (${(r.error as NodeJS.ErrnoException).code}); nothing was left open`, {}, EXIT.failure);
  if (r.status !== 0) {
    // cryptsetup says 2 for "no key available with this passphrase"
    const why = r.status === 2 ? `wrong ${key.keyFile ? 'key file' : 'passphrase'}` : (r.stderr || r.stdout).trim().split('\n').pop();
    throw new RdError(`${what} (LUKS${v.luksVersion ?? ''}): ${why}; nothing was left open`, {}, EXIT.failure);
  }
  const inner = probeVolume(realpathSync(`/dev/mapper/${name}`));
  return { ...inner, container: `LUKS ${what}`, aliases: [`/dev/mapper/${name}`, ...(v.uuid ? [`/dev/mapper/luks-${v.uuid}`] : [])] };
}

export function closeLuks(name: string): string | undefined {
  if (!existsSync(`/dev/mapper/${name}`)) return undefined;
  const r = cryptsetup(['close', name]);
  return r.status === 0 ? undefined : `cryptsetup close ${name} failed: ${(r.stderr || '').trim().split('\n').pop()}`;
}

/**
 * The target's /etc/crypttab names its mappings ("luks-root UUID=…"), and
 * its fstab then says /dev/mapper/luks-root: give each opened volume the
 * name the target gives it.
 */
export function addCrypttabNames(crypttab: string, volumes: Volume[]): void {
  for (const line of crypttab.split('\n')) {
    const [name, device] = line.trim().split(/\s+/);
    if (!name || name.startsWith('#') || !device) continue;
    const uuid = /^UUID="?([^"]+)"?$/.exec(device)?.[1];
    const inner = uuid && volumes.find((v) => v.aliases.includes(`/dev/mapper/luks-${uuid}`));
    if (inner) inner.aliases.push(`/dev/mapper/${name}`);
  }
}
