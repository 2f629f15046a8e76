import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The bundle `npm test` builds first (pretest); tests run the CLI exactly as users do. */
export const BUNDLE = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'dist', 'rdrescue.cjs');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  stdoutBuf: Buffer;
}

export function rdrescue(args: string[], opts: SpawnSyncOptions = {}): CliResult {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build`);
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { maxBuffer: 1 << 30, ...opts });
  const out = r.stdout as Buffer;
  return { status: r.status, stdout: out?.toString('utf8') ?? '', stderr: (r.stderr as Buffer)?.toString('utf8') ?? '', stdoutBuf: out };
}
