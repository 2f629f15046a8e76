import { openSync, readFileSync, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { RdError, EXIT } from '../errors.js';

/**
 * Getting a password into rdrescue without it ever being on a command line:
 * from the controlling terminal with echo off, or from stdin (scripts).
 * Error messages here never include what was typed.
 */

/** All of stdin, minus one trailing newline. Closed or empty stdin is an error, not an empty password. */
export function readPasswordStdin(fd = 0): string {
  let buf: Buffer;
  try {
    buf = readFileSync(fd);
  } catch (e) {
    throw new RdError(`cannot read the password from stdin (${(e as NodeJS.ErrnoException).code ?? 'closed'}); pipe it in, e.g. printf '%s\\n' "$PW" | rdrescue passwd USER --password-stdin`, {}, EXIT.usage);
  }
  const text = buf.toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new RdError('stdin was empty or closed: no password read; nothing was changed', {}, EXIT.usage);
  return text;
}

/**
 * Reads lines with echo off from a raw-mode terminal. Characters typed ahead
 * (both answers in one burst, as a paste or a script delivers them) stay
 * queued for the next line instead of being dropped.
 */
class HiddenReader {
  private queue: string[] = [];
  private wake?: () => void;
  constructor(private fd: number, stream: ReadStream) {
    stream.on('data', (chunk: Buffer) => {
      this.queue.push(...chunk.toString('utf8'));
      this.wake?.();
    });
  }

  private async next(): Promise<string> {
    while (this.queue.length === 0) await new Promise<void>((res) => (this.wake = res));
    return this.queue.shift()!;
  }

  async line(prompt: string): Promise<string> {
    writeSync(this.fd, prompt);
    let value = '';
    try {
      for (;;) {
        const ch = await this.next();
        if (ch === '\r' || ch === '\n') return value;
        if (ch === '\x03' || (ch === '\x04' && value === '')) throw new RdError('cancelled; nothing was changed', {}, EXIT.usage);
        if (ch === '\x7f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\x15') value = '';
        else if (ch >= ' ') value += ch;
      }
    } finally {
      writeSync(this.fd, '\r\n');
    }
  }
}

/** Asks twice on /dev/tty with echo off; the two must match. */
export async function readPasswordTty(user: string, confirm = true, ask = `New password for ${user}: `): Promise<string> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    throw new RdError('no terminal to ask for the password; use --password-stdin, or --hash with a hash from `rdrescue hash`', {}, EXIT.usage);
  }
  const stream = new ReadStream(fd);
  stream.setRawMode(true);
  const reader = new HiddenReader(fd, stream);
  try {
    const first = await reader.line(ask);
    if (first === '') throw new RdError('empty password; nothing was changed', {}, EXIT.usage);
    if (confirm) {
      const second = await reader.line(`Retype new password for ${user}: `);
      if (second !== first) throw new RdError('the passwords do not match; nothing was changed', {}, EXIT.usage);
    }
    return first;
  } finally {
    stream.setRawMode(false);
    stream.destroy();
  }
}
