import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

/** Runs a host tool and fails with its stderr; the VM tests lean on real tools as builders and oracles. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const err = String(r.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${err}`);
  }
  return String(r.stdout ?? '');
}

export function seconds(startMs: number): string {
  return `${((Date.now() - startMs) / 1000).toFixed(1)} s`;
}

/** Host tools the VM test cannot do without; the caller turns a non-empty answer into a loud skip. */
export function missingTools(names: string[]): string[] {
  return names.filter((n) => spawnSync('sh', ['-c', `command -v ${n}`], { stdio: 'ignore' }).status !== 0);
}
