import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Helpers shared by the ELF tests: compile the fixtures with gcc and read ldd's answer as the oracle. */
export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'elf');

export function scratch(t: { teardown(fn: () => void): void }, prefix = 'rdr-elf-'): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** gcc with the fixture sources named relative to fixtures/elf; fails loudly with gcc's message. */
export function cc(out: string, sources: string[], flags: string[] = []): string {
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync('gcc', [...sources.map((s) => (s.startsWith('/') ? s : join(FIXTURES, s))), '-o', out, ...flags], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc failed for ${out}: ${r.stderr}`);
  return out;
}

export function gccCanM32(): boolean {
  const d = mkdtempSync(join(tmpdir(), 'rdr-m32-'));
  try {
    return spawnSync('gcc', ['-m32', join(FIXTURES, 'hello.c'), '-o', join(d, 'h')]).status === 0;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

export interface LddResult {
  /** "name => path" lines; path undefined for "not found". */
  libs: Map<string, string | undefined>;
  /** Lines without "=>" (the loader), vdso excluded. */
  bare: string[];
  kind: 'dynamic' | 'not dynamic' | 'static-pie';
}

/** ldd as the oracle for what the system's ld.so loads (only ever run on system files and test-built programs). */
export function ldd(file: string, env: NodeJS.ProcessEnv = process.env): LddResult {
  const r = spawnSync('ldd', [file], { encoding: 'utf8', env });
  const out = r.stdout + r.stderr;
  const res: LddResult = { libs: new Map(), bare: [], kind: 'dynamic' };
  if (/not a dynamic executable/.test(out)) res.kind = 'not dynamic';
  else if (/statically linked/.test(out)) res.kind = 'static-pie';
  for (const line of r.stdout.split('\n')) {
    const m = /^\s+(\S+) => (not found|(\S+) \(0x[0-9a-f]+\))$/.exec(line);
    if (m) {
      res.libs.set(m[1], m[3]);
      continue;
    }
    const b = /^\s+(\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (b && !/^linux-(vdso|gate)\.so/.test(b[1])) res.bare.push(b[1]);
  }
  return res;
}
