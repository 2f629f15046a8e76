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

function readHidden(fd: number, stream: ReadStream, prompt: string): Promise<string> {
  writeSync(fd, prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: RdError) => {
      stream.off('data', onData);
      writeSync(fd, '\r\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\x03' || (ch === '\x04' && value === '')) return finish(new RdError('cancelled; nothing was changed', {}, EXIT.usage));
        if (ch === '\x7f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\x15') value = '';
        else if (ch >= ' ' || ch > '\x7f') value += ch;
      }
    };
    stream.on('data', onData);
  });
}

/** Asks twice on /dev/tty with echo off; the two must match. */
export async function readPasswordTty(user: string, confirm = true): Promise<string> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    throw new RdError('no terminal to ask for the password; use --password-stdin, or --hash with a hash from `rdrescue hash`', {}, EXIT.usage);
  }
  const stream = new ReadStream(fd);
  stream.setRawMode(true);
  try {
    const first = await readHidden(fd, stream, `New password for ${user}: `);
    if (first === '') throw new RdError('empty password; nothing was changed', {}, EXIT.usage);
    if (confirm) {
      const second = await readHidden(fd, stream, `Retype new password for ${user}: `);
      if (second !== first) throw new RdError('the passwords do not match; nothing was changed', {}, EXIT.usage);
    }
    return first;
  } finally {
    stream.setRawMode(false);
    stream.destroy();
  }
}
