import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { RdError } from '../errors.js';

const found = new Map<string, string | undefined>();

/** Where a program is on PATH (cached), or undefined. */
export function findProgram(name: string): string | undefined {
  if (!found.has(name)) {
    let hit: string | undefined;
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        hit = join(dir, name);
        break;
      } catch {
        // not here
      }
    }
    found.set(name, hit);
  }
  return found.get(name);
}

/** Stream a source through a Transform with backpressure, yielding its output. */
export async function* pipeThrough(t: NodeJS.ReadWriteStream, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer, void, undefined> {
  let failed: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (!t.write(chunk)) await new Promise((r) => t.once('drain', r));
      }
      t.end();
    } catch (e) {
      failed = e;
      (t as unknown as { destroy(e: unknown): void }).destroy(e as Error);
    }
  })();
  try {
    for await (const out of t as AsyncIterable<Buffer>) yield out;
  } catch (e) {
    throw failed ?? e;
  }
  await feeding;
  if (failed) throw failed;
}

/**
 * Stream a source through an external compressor (stdin → stdout), checking
 * that it exists and exits 0. `pkg` is the Debian package that provides it.
 */
export async function* pipeProgram(
  program: string,
  args: string[],
  pkg: string,
  source: AsyncIterable<Buffer>,
): AsyncGenerator<Buffer, void, undefined> {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let spawnError: NodeJS.ErrnoException | undefined;
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  const missing = () => new RdError(`${program} not found: install the Debian package "${pkg}" (apt-get install ${pkg}) to write ${program} output`);
  let feedError: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (spawnError) return;
        if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
      }
    } catch (e) {
      feedError = e;
      child.kill();
    } finally {
      child.stdin.end();
    }
  })();
  child.stdin.on('error', () => {
    // EPIPE when the program dies early: its exit status tells the story.
  });
  try {
    for await (const out of child.stdout) yield out as Buffer;
  } finally {
    if (child.exitCode === null && !spawnError) child.kill();
  }
  await feeding;
  const code = await exited;
  if (spawnError?.code === 'ENOENT') throw missing();
  if (spawnError) throw new RdError(`cannot run ${program}: ${spawnError.message}`);
  if (feedError) throw feedError;
  if (code !== 0) {
    const msg = Buffer.concat(stderr).toString('utf8').trim().split('\n')[0] ?? '';
    throw new RdError(`${program} ${args.join(' ')} failed with exit status ${code}${msg ? `: ${msg}` : ''}`);
  }
}
