import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Writable } from 'node:stream';
import { appendSegment } from '../write/add.js';
import type { Compression } from '../compression/types.js';
import type { WriteEntry } from '../cpio/writer.js';
import { RdError, EXIT } from '../errors.js';
import { catFiles } from '../image/cat.js';
import { imageInfo } from '../image/info.js';
import { refuseWritingUki } from '../image/write-refusal.js';
import { loadRunbook } from '../runbook/load.js';
import { BOOT_RUNBOOK, DRACUT_HOOK_PATH, DRACUT_PRE_PIVOT, INIT_BOTTOM_LINE, INIT_BOTTOM_ORDER, INIT_BOTTOM_PATH } from './boot-scripts.js';
import { findExecutable } from './executable.js';
import { buildPayload, buildThinPayload, payloadEntries, stagePayload, type Payload } from './payload.js';

export interface InjectOptions {
  /** The single executable to carry (default: see findExecutable). */
  exe?: string;
  compress?: Compression | 'none';
  level?: number;
  /** A runbook to bake in: the image then applies it at its next boot, once. */
  runbook?: string;
  /** Only the launcher that starts the executable installed on the target root (a few KiB), not the executable and its libraries. */
  thin?: boolean;
  /** Told about entries left out because the image already has what they would create. */
  onWarning?: (message: string) => void;
  /** A UKI as IMAGE gets a new, unsigned UKI with the segment in its .initrd. */
  unsignedOk?: boolean;
}

export interface InjectReport {
  image: string;
  out: string;
  exe: string;
  /** Files added (the executable, its loader and libraries unless thin, the launcher, boot hooks, a runbook). */
  files: string[];
  /** Their total size before compression. */
  payloadBytes: number;
  originalBytes: number;
  newBytes: number;
  grewBy: number;
  /** Which boot hook runs runbooks (rd.rdrescue.runbook=, --runbook), by the generator of the image. */
  bootHook?: 'dracut pre-pivot' | 'initramfs-tools init-bottom';
  /** Where the baked-in runbook is in the image. */
  runbook?: string;
}

function file(name: string, text: string | Buffer, perm: number): { name: string; content: Buffer; perm: number } {
  return { name, content: Buffer.isBuffer(text) ? text : Buffer.from(text), perm };
}

async function readFromImage(image: string, path: string): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  try {
    await catFiles(image, [path], sink);
  } catch (e) {
    if (e instanceof RdError && /is not in the image/.test(e.message)) return undefined;
    throw e;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The boot hook for this kind of image. initramfs-tools runs init-bottom
 * scripts only as listed in the ORDER file made at build time, so ours is
 * put first into a new ORDER (while udev still runs, so LABEL= devices resolve).
 */
async function bootHook(image: string): Promise<{ hook?: InjectReport['bootHook']; files: Array<ReturnType<typeof file>> }> {
  const gen = (await imageInfo(image)).generator?.name;
  if (gen === 'dracut') return { hook: 'dracut pre-pivot', files: [file(DRACUT_HOOK_PATH, DRACUT_PRE_PIVOT, 0o644)] };
  if (gen === 'initramfs-tools') {
    const order = (await readFromImage(image, INIT_BOTTOM_ORDER)) ?? '';
    const lines = order.split('\n').filter((l) => l !== '' && l !== INIT_BOTTOM_LINE);
    const newOrder = [INIT_BOTTOM_LINE, ...(lines.length ? lines : ['[ -e /conf/param.conf ] && . /conf/param.conf'])].join('\n') + '\n';
    return { hook: 'initramfs-tools init-bottom', files: [file(INIT_BOTTOM_PATH, BOOT_RUNBOOK, 0o755), file(INIT_BOTTOM_ORDER, newOrder, 0o644)] };
  }
  return { files: [] };
}

/** Checked now, not at boot where nobody reads the error; and it must not need anything the initramfs will not have. */
function bakedRunbook(path: string): ReturnType<typeof file> {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw new RdError(`cannot read the runbook (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path }, EXIT.usage);
  }
  if (/^\s*-?\s*password_(file|env)\s*:|[{,]\s*password_(file|env)\s*:/m.test(text.toString('utf8'))) {
    throw new RdError('a baked-in runbook cannot use password_file or password_env (neither exists at boot); use hash: from `rdrescue hash`', { file: path }, EXIT.usage);
  }
  loadRunbook(path, { standalone: true }); // also catches the JSON spelling ("password_env": …) the pattern above misses
  const id = createHash('sha256').update(text).digest('hex').slice(0, 12);
  const ext = extname(path) === '.json' ? '.json' : '.yaml';
  return file(`etc/rdrescue/runbook-${id}${ext}`, text, 0o600);
}

/**
 * Appends one segment that makes `rdrescue` runnable in the image's shell:
 * the executable with its complete library closure in /usr/lib/rdrescue and
 * the launcher /usr/bin/rdrescue (with `thin`, only a launcher that starts
 * the executable installed on the mounted target root), plus the boot hook for unattended runbooks
 * and, with `runbook`, the runbook itself. The original bytes stay as they were.
 */
export async function inject(image: string, out: string, opts: InjectOptions = {}): Promise<InjectReport> {
  refuseWritingUki(image, out, opts.unsignedOk);
  const runbook = opts.runbook === undefined ? undefined : bakedRunbook(opts.runbook);
  const payload = (opts.thin ? buildThinPayload : buildPayload)(findExecutable(opts.exe));
  const { hook, files: hookFiles } = await bootHook(image);
  if (runbook && !hook) throw new RdError('--runbook needs an image made by dracut or initramfs-tools (no boot hook known for this one)', { file: image }, EXIT.usage);
  const extra = [...hookFiles, ...(runbook ? [runbook] : [])];
  const mtime = Math.floor(Date.now() / 1000);
  let ino = payload.dirs.length + payload.files.length;
  const extraEntries: WriteEntry[] = extra.map((f) => ({
    name: f.name, type: 'file', perm: f.perm, uid: 0, gid: 0, mtime, ino: ++ino, nlink: 1, size: f.content.length, data: () => [f.content],
  }));
  const { originalBytes, newBytes } = await appendSegment(image, out, [...payloadEntries(payload), ...extraEntries], {
    compress: opts.compress,
    level: opts.level,
    onWarning: opts.onWarning,
    unsignedOk: opts.unsignedOk,
  });
  return {
    image,
    out,
    exe: payload.exe,
    files: [...payload.files, ...extra].map((f) => '/' + f.name),
    payloadBytes: payload.bytes + extra.reduce((n, f) => n + f.content.length, 0),
    originalBytes,
    newBytes,
    grewBy: newBytes - originalBytes,
    ...(hook && { bootHook: hook }),
    ...(runbook && { runbook: '/' + runbook.name }),
  };
}

/** The same files written into an initramfs build tree (what the dracut and initramfs-tools hooks call). */
export function stageExecutable(dir: string, opts: Pick<InjectOptions, 'exe' | 'thin'> = {}): Payload {
  const payload = (opts.thin ? buildThinPayload : buildPayload)(findExecutable(opts.exe));
  stagePayload(payload, dir);
  return payload;
}
