import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { Accel } from './kernel.js';

export interface BootOptions {
  name: string;
  accel: Accel;
  vmlinux: string;
  initrd: string;
  /** The root disk (vda); a guest that lives in its initramfs has none. */
  disk?: string;
  /** More virtio disks after the root (vdb, vdc, ...), e.g. one carrying a runbook; read-only unless given as { path, writable: true }. */
  extraDisks?: Array<string | { path: string; writable: true }>;
  append: string;
  /** Where the whole console transcript goes (always written, so a failure can be read afterwards). */
  log: string;
  memory?: string;
}

// A prompt is the end of the output: ash's `# `/`) ` and bash's `# `, then any
// terminal escapes they add (ash's ESC[6n, bash's bracketed-paste toggles).
const PROMPT = /[#$>)] (?:\x1b\[[0-9;?]*[A-Za-z])*$/;
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * On a loaded host TCG runs the guest so slowly that the kernel's IO-APIC
 * timer check fails and it panics ("IO-APIC + timer doesn't work!") before
 * init; the check proves nothing about rdrescue, so every guest skips it.
 */
const NO_TIMER_CHECK = 'no_timer_check';

export class VmError extends Error {}

/**
 * One QEMU guest whose serial console is a unix socket that Node reads and
 * writes directly: no pty, no expect. QEMU waits for our connection before it
 * starts the guest, so no early output is lost.
 */
export class Vm {
  private out = '';
  /** Start of the output not yet consumed by a wait. */
  private cursor = 0;
  private sock?: Socket;
  private proc?: ChildProcess;
  private exited?: Promise<number | null>;
  private exitCode: number | null | undefined;
  private waiters = new Set<() => void>();
  readonly started = Date.now();

  constructor(readonly opts: BootOptions) {}

  async boot(): Promise<void> {
    const o = this.opts;
    const path = `${o.log}.sock`;
    rmSync(path, { force: true });
    const args = [
      '-accel', o.accel, '-m', o.memory ?? '768M', '-smp', '1', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-chardev', `socket,id=con,path=${path},server=on,wait=on`, '-serial', 'chardev:con',
      '-kernel', o.vmlinux, '-initrd', o.initrd, '-append', `${o.append} ${NO_TIMER_CHECK}`,
      ...(o.disk ? ['-drive', `file=${o.disk},format=raw,if=virtio`] : []),
      ...(o.extraDisks ?? []).flatMap((d) => ['-drive', typeof d === 'string' ? `file=${d},format=raw,if=virtio,readonly=on` : `file=${d.path},format=raw,if=virtio`]),
    ];
    if (o.accel === 'tcg') args.splice(2, 0, '-cpu', 'max');
    const proc = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    this.exited = new Promise((resolve) => {
      proc.on('close', (code) => {
        this.exitCode = code;
        if (stderr.trim()) this.out += `\n[qemu stderr] ${stderr.trim()}\n`;
        this.wake();
        resolve(code);
      });
      proc.on('error', (e) => {
        this.out += `\n[qemu failed to start] ${e.message}\n`;
        this.exitCode = null;
        this.wake();
        resolve(null);
      });
    });
    for (let i = 0; i < 200 && !existsSync(path); i++) {
      if (this.exitCode !== undefined) throw this.fail(`QEMU exited before opening its console: ${stderr.trim()}`);
      await sleep(50);
    }
    this.sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => resolve(s));
      s.on('error', reject);
    });
    this.sock.on('data', (c: Buffer) => {
      this.out += c.toString('latin1');
      this.wake();
    });
    this.sock.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Waits until `test` finds something in the unconsumed output (or QEMU exits, or time runs out). */
  private async until<T>(test: (text: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = test(this.out.slice(this.cursor));
      if (r !== undefined) return r;
      if (this.exitCode !== undefined) throw this.fail(`QEMU exited (code ${this.exitCode}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw this.fail(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 500));
        this.waiters.add(done);
      });
    }
  }

  /** Waits for `re` and consumes the output up to the end of the match. */
  async expect(re: RegExp, timeoutMs: number, what = String(re)): Promise<RegExpMatchArray> {
    const m = await this.until((t) => t.match(re) ?? undefined, timeoutMs, what);
    this.cursor += m.index! + m[0].length;
    return m;
  }

  /** Waits for a shell prompt at the very end of the output, i.e. the shell is idle and reading. */
  async prompt(timeoutMs: number): Promise<void> {
    await this.until((t) => (PROMPT.test(t) ? true : undefined), timeoutMs, 'a shell prompt');
    this.cursor = this.out.length;
  }

  send(text: string): void {
    this.sock!.write(text);
  }

  /**
   * Runs one command line and returns its exit status and output. The marker
   * is built by the shell (`$?`), so the echoed command line never matches it.
   */
  async sh(cmd: string, timeoutMs = 60_000, input?: string): Promise<{ rc: number; output: string }> {
    const from = this.out.length;
    this.send(`${cmd}; echo @@RC=$?@@\n`);
    if (input !== undefined) {
      // Typed-ahead input can be echoed or swallowed before the program reads the tty.
      await sleep(1500);
      this.send(input);
    }
    this.cursor = from;
    const m = await this.expect(/@@RC=(\d+)@@/, timeoutMs, `the end of \`${cmd}\``);
    const output = this.out.slice(from, this.cursor - m[0].length).replace(ESCAPES, '').replace(/\r/g, '');
    await this.prompt(timeoutMs);
    return { rc: Number(m[1]), output };
  }

  /** Waits for QEMU to exit on its own (the guest powered off). */
  async exit(timeoutMs: number): Promise<number | null> {
    await this.until(() => (this.exitCode !== undefined ? true : undefined), timeoutMs, 'the guest to power off').catch((e) => {
      if (this.exitCode === undefined) throw e;
    });
    return this.exitCode ?? null;
  }

  transcript(): string {
    return this.out;
  }

  private fail(msg: string): VmError {
    this.saveLog();
    return new VmError(`${this.opts.name}: ${msg} (console log: ${this.opts.log})\n--- last console lines ---\n${tail(this.out)}`);
  }

  saveLog(): void {
    writeFileSync(this.opts.log, this.out);
  }

  async kill(): Promise<void> {
    this.sock?.destroy();
    if (this.exitCode === undefined && this.proc?.pid) this.proc.kill('SIGKILL');
    await this.exited;
    this.saveLog();
    rmSync(`${this.opts.log}.sock`, { force: true });
  }
}

function tail(s: string): string {
  return s.replace(ESCAPES, '').replace(/\r/g, '').split('\n').slice(-25).join('\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
