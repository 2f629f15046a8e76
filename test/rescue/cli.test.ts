// The interactive and small commands: hash, passwd on a terminal (through
// `script`, a real pty), remount with its fsck warning.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { isReadOnly, rhelRoot, shadowLine, systemCryptVerifies } from './helpers.js';

/** Runs rdrescue on a pty (`script`), typing each answer once its prompt has appeared, as a person would. */
function onTerminal(args: string[], answers: string[]): Promise<{ status: number | null; out: string }> {
  const cmd = [process.execPath, BUNDLE, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let prompts = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const seen = (out.match(/password for [^:]*: /g) ?? []).length;
    while (prompts < seen && prompts < answers.length) child.stdin.write(`${answers[prompts++]}\r`);
  });
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, out })));
}

t.test('hash --password-stdin prints a $6$ hash the system crypt accepts', async (t) => {
  const r = rdrescue(['hash', '--password-stdin'], { input: 'hash-me\n' });
  t.equal(r.status, 0, r.stderr);
  t.ok(systemCryptVerifies('hash-me', r.stdout.trim()));
  const rounds = rdrescue(['hash', '--password-stdin', '--rounds', '12000'], { input: 'hash-me' });
  t.match(rounds.stdout, /^\$6\$rounds=12000\$/);
  t.ok(systemCryptVerifies('hash-me', rounds.stdout.trim()));
  const empty = rdrescue(['hash', '--password-stdin'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(empty.status, 2);
  t.match(empty.stderr, /^rdrescue: stdin was empty or closed/);
});

t.test('hash on a terminal: asked twice, nothing echoed', async (t) => {
  const r = await onTerminal(['hash'], ['tty-secret-1', 'tty-secret-1']);
  t.equal(r.status, 0, r.out);
  t.match(r.out, /New password for the hash: .*\n.*Retype new password/s);
  t.notOk(r.out.includes('tty-secret-1'), 'the typed password never appears on the terminal');
  t.ok(systemCryptVerifies('tty-secret-1', /\$6\$\S+/.exec(r.out)![0]));
  const mismatch = await onTerminal(['hash'], ['one-thing', 'another']);
  t.equal(mismatch.status, 2);
  t.match(mismatch.out, /the passwords do not match; nothing was changed/);
});

t.test('passwd on a terminal, the way a rescuer at rd.break types it', async (t) => {
  const r = rhelRoot(t);
  const res = await onTerminal(['passwd', 'root', '--root', r.mnt], ['typed-at-the-prompt', 'typed-at-the-prompt']);
  t.equal(res.status, 0, res.out);
  t.notOk(res.out.includes('typed-at-the-prompt'));
  t.ok(systemCryptVerifies('typed-at-the-prompt', shadowLine(readFileSync(join(r.mnt, 'etc/shadow'), 'utf8'), 'root')[1]));
});

t.test('remount rw warns about an uncleanly unmounted filesystem and suggests fsck; ro goes back', async (t) => {
  const r = rhelRoot(t, { dirty: true });
  const dry = rdrescue(['remount', 'rw', '--root', r.mnt, '--dry-run']);
  t.equal(dry.status, 0, dry.stderr);
  t.match(dry.stdout, /would remount/);
  t.match(dry.stdout, new RegExp(`warning: ${r.loop}: the filesystem was not cleanly unmounted; check it before writing: umount ${r.mnt} && fsck -f ${r.loop}`));
  t.ok(isReadOnly(r.mnt));
  let res = rdrescue(['remount', 'rw', '--root', r.mnt]);
  t.equal(res.status, 0, res.stderr);
  t.notOk(isReadOnly(r.mnt));
  res = rdrescue(['remount', 'rw', '--root', r.mnt]);
  t.match(res.stdout, /is already rw/);
  res = rdrescue(['remount', 'ro', '--root', r.mnt]);
  t.equal(res.status, 0, res.stderr);
  t.ok(isReadOnly(r.mnt));
  const st = rdrescue(['status', '--root', r.mnt]);
  t.match(st.stdout, /remount rw[\s\S]*remount ro/, 'both in the journal');
  t.equal(rdrescue(['remount', 'sideways', '--root', r.mnt]).status, 2);
});

t.test('a clean filesystem gets no fsck warning', async (t) => {
  const r = rhelRoot(t);
  const res = rdrescue(['remount', 'rw', '--root', r.mnt, '--dry-run']);
  t.notMatch(res.stdout, /warning/);
});
