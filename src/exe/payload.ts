import { chmodSync, copyFileSync, createReadStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resolveClosure } from '../elf/closure.js';
import type { WriteEntry } from '../cpio/writer.js';
import { RdError, EXIT } from '../errors.js';
import { BOOT_RUNBOOK, DRACUT_PRE_PIVOT } from './boot-scripts.js';
import { launcherFacts, thinLauncher } from './thin-launcher.js';

/** rdrescue's private tree inside an initramfs: nothing outside it but the launcher. */
export const PRIVATE_DIR = 'usr/lib/rdrescue';
export const LAUNCHER = 'usr/bin/rdrescue';
export const BOOT_SCRIPT = `${PRIVATE_DIR}/boot-runbook.sh`;

export interface PayloadFile {
  /** Path inside the initramfs, without a leading slash. */
  name: string;
  role: 'executable' | 'loader' | 'library' | 'launcher' | 'boot-script';
  perm: number;
  size: number;
  /** Where the bytes come from on the host (absent for the generated launcher). */
  hostPath?: string;
  content?: Buffer;
}

export interface Payload {
  exe: string;
  /** Every parent directory, outermost first: the kernel does not create missing parents. */
  dirs: string[];
  files: PayloadFile[];
  /** Sum of the file sizes. */
  bytes: number;
}

/**
 * The launcher starts the executable through the private loader with
 * --library-path and --inhibit-cache, so the image's ld.so.cache and
 * libraries are never consulted; programs rdrescue runs in turn (chroot,
 * mount) get the image's or the target's own loader as usual, since
 * nothing is put into their environment's LD_LIBRARY_PATH.
 * Under an explicit loader process.execPath is the loader, hence RDRESCUE_EXE.
 */
function launcher(loader: string): Buffer {
  return Buffer.from(
    '#!/bin/sh\n' +
      "# Added by rdrescue: runs its private copy with its own loader and libraries;\n# the image's own libraries are neither used nor replaced.\n" +
      `RDRESCUE_EXE=/${PRIVATE_DIR}/rdrescue\nexport RDRESCUE_EXE\n` +
      `exec /${PRIVATE_DIR}/lib/${loader} --inhibit-cache --library-path /${PRIVATE_DIR}/lib "$RDRESCUE_EXE" "$@"\n`,
  );
}

/** The executable, its loader and every library it loads (from the ELF headers, as ld.so would resolve them on this host). */
export function buildPayload(exe: string): Payload {
  const closure = resolveClosure([exe]);
  const files: PayloadFile[] = [];
  let loader: string | undefined;
  for (const f of closure.files) {
    const size = statSync(f.hostPath).size;
    if (f.kind === 'program') {
      // Not executable on purpose: only the loader runs it (which needs read access only), and dracut
      // strips every executable file in the image, which destroys the blob postject put into the executable.
      files.push({ name: `${PRIVATE_DIR}/rdrescue`, role: 'executable', perm: 0o644, size, hostPath: f.hostPath });
    } else {
      // Stored under the name ld.so looks for (the DT_NEEDED name or PT_INTERP basename), with the bytes of the real file.
      const name = basename(f.path);
      if (f.kind === 'interpreter') loader = name;
      files.push({ name: `${PRIVATE_DIR}/lib/${name}`, role: f.kind === 'interpreter' ? 'loader' : 'library', perm: f.kind === 'interpreter' ? 0o755 : 0o644, size, hostPath: f.hostPath });
    }
  }
  const names = new Set<string>();
  for (const f of files) {
    if (names.has(f.name)) throw new RdError(`two libraries of ${exe} share the name ${basename(f.name)}; cannot place both in ${PRIVATE_DIR}/lib`, {}, EXIT.failure);
    names.add(f.name);
  }
  if (!loader) throw new RdError('has no ELF interpreter (PT_INTERP): the rdrescue executable is a dynamically linked Node binary', { file: exe }, EXIT.usage);
  files.push(generated(LAUNCHER, 'launcher', launcher(loader), 0o755), ...bootScripts());
  const dirs = ['usr', 'usr/bin', 'usr/lib', PRIVATE_DIR, `${PRIVATE_DIR}/lib`];
  return { exe, dirs, files, bytes: files.reduce((n, f) => n + f.size, 0) };
}

/**
 * The thin payload: the launcher that starts the executable installed on the
 * target root (see thin-launcher.ts), plus the boot scripts; no executable and
 * no library. `exe` only tells the launcher which loader and glibc to expect.
 */
export function buildThinPayload(exe: string): Payload {
  const files = [generated(LAUNCHER, 'launcher', thinLauncher(launcherFacts(exe)), 0o755), ...bootScripts()];
  return { exe, dirs: ['usr', 'usr/bin', 'usr/lib', PRIVATE_DIR], files, bytes: files.reduce((n, f) => n + f.size, 0) };
}

function generated(name: string, role: PayloadFile['role'], content: Buffer, perm: number): PayloadFile {
  return { name, role, perm, size: content.length, content };
}

/** The unattended-runbook scripts; each kind of image's hook wires them in (see boot-scripts.ts). */
function bootScripts(): PayloadFile[] {
  return [generated(BOOT_SCRIPT, 'boot-script', Buffer.from(BOOT_RUNBOOK), 0o755), generated(`${PRIVATE_DIR}/dracut-pre-pivot.sh`, 'boot-script', Buffer.from(DRACUT_PRE_PIVOT), 0o644)];
}

/** The payload as archive members, directories first. */
export function* payloadEntries(p: Payload, mtime = Math.floor(statSync(p.exe).mtimeMs / 1000)): Generator<WriteEntry> {
  let ino = 1;
  for (const d of p.dirs) yield { name: d, type: 'dir', perm: 0o755, uid: 0, gid: 0, mtime, ino: ino++, nlink: 2, size: 0 };
  for (const f of p.files) {
    const data = f.content ? () => [f.content!] : () => createReadStream(f.hostPath!);
    yield { name: f.name, type: 'file', perm: f.perm, uid: 0, gid: 0, mtime, ino: ino++, nlink: 1, size: f.size, data };
  }
}

/**
 * Writes the payload into a directory that will become an initramfs (a
 * dracut $initdir or an initramfs-tools $DESTDIR): what the hooks use.
 * Only the private tree and the launcher are written.
 */
export function stagePayload(p: Payload, dir: string): void {
  for (const d of p.dirs) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  for (const f of p.files) {
    const dest = join(dir, f.name);
    // A symlink left at the destination would redirect the copy outside the private tree.
    rmSync(dest, { force: true });
    if (f.content) writeFileSync(dest, f.content, { flag: 'wx' });
    else copyFileSync(f.hostPath!, dest);
    chmodSync(dest, f.perm);
  }
}
