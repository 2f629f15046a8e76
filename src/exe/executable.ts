import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RdError, EXIT } from '../errors.js';
import { launcherSetting } from './launcher-env.js';

/**
 * postject flips the fuse's last character from 0 to 1 when it injects the
 * blob, so `NODE_SEA_FUSE_<hash>:1` exists only in a finished single
 * executable (the plain node binary carries the :0 form). Spelled in hex:
 * the bundle is embedded in the executable, and postject refuses to build
 * one in which the fuse's text appears twice.
 */
const SEA_FUSE_ON = Buffer.from('4e4f44455f5345415f465553455f66636536383061623263633436376236653037326238623564663139393662323a31', 'hex');

function isSea(): boolean {
  // node:sea and getBuiltinModule exist from Node 20.16; older runtimes are never the executable.
  const sea = process.getBuiltinModule?.('node:sea') as { isSea(): boolean } | undefined;
  return sea?.isSea() ?? false;
}

/**
 * Where the rdrescue single executable is: `--exe`, else $RDRESCUE_EXE (the
 * launcher sets it, because under an explicit loader process.execPath is the
 * loader), else this process if it is the executable, else `rdrescue` next to
 * the running bundle (dist/rdrescue beside dist/rdrescue.cjs).
 */
export function findExecutable(explicit?: string): string {
  const chosen =
    explicit ??
    launcherSetting('RDRESCUE_EXE') ??
    (isSea() ? process.execPath : process.argv[1] ? join(dirname(resolve(process.argv[1])), 'rdrescue') : undefined);
  if (!chosen || !existsSync(chosen)) {
    throw new RdError(
      `the rdrescue single executable was not found${chosen ? ` at ${chosen}` : ''}: build it with \`npm run build\` (dist/rdrescue) or pass --exe PATH`,
      {},
      EXIT.usage,
    );
  }
  const path = resolve(chosen);
  checkSea(path);
  return path;
}

/** Refuses a file that is not a finished rdrescue executable (e.g. the bare node binary, or the .cjs bundle). */
export function checkSea(path: string): void {
  const st = statSync(path);
  if (!st.isFile()) throw new RdError('not a regular file', { file: path }, EXIT.usage);
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) throw new RdError('not an ELF executable (inject needs the single executable dist/rdrescue, not the .cjs bundle)', { file: path }, EXIT.usage);
    const chunk = Buffer.alloc(1 << 22);
    let pos = 0;
    let carry = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      const window = Buffer.concat([carry, chunk.subarray(0, n)]);
      if (window.includes(SEA_FUSE_ON)) return;
      carry = window.subarray(Math.max(0, window.length - SEA_FUSE_ON.length));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  throw new RdError(`${basename(path)} is an ELF file but not a Node single executable (no injected blob)`, { file: path }, EXIT.usage);
}
