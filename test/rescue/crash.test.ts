// Crash safety of the shadow write: the writer is paused between each of its
// steps (RDRESCUE_TEST_PAUSE_AT, honoured only with RDRESCUE_TEST=1) and
// killed with SIGKILL. After each kill /etc/shadow is exactly the old or
// exactly the new content, the fcntl lock died with the writer, and the
// shadow.lock it left is reported as stale.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { debugfsCat } from '../helpers/ext4.js';
import { rhelRoot, shadowLine, systemCryptVerifies } from './helpers.js';

const STEPS: Array<[string, 'old' | 'new']> = [
  ['backup-written', 'old'],
  ['backup-renamed', 'old'],
  ['temp-written', 'old'],
  ['temp-synced', 'old'],
  ['renamed', 'new'],
  ['dir-synced', 'new'],
];

function killAt(root: string, step: string, password: string): Promise<void> {
  const child = spawn(process.execPath, [BUNDLE, 'passwd', 'root', '--root', root, '--password-stdin', '--force'], {
    env: { ...process.env, RDRESCUE_TEST: '1', RDRESCUE_TEST_PAUSE_AT: step },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  child.stdin.end(password);
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes(`paused at ${step}`)) child.kill('SIGKILL');
    });
    child.once('exit', (code, sig) => (sig === 'SIGKILL' ? resolve() : reject(new Error(`writer was not paused at ${step}: exit ${code}: ${err}`))));
  });
}

function fcntlFree(path: string): boolean {
  const r = spawnSync('perl', ['-e', `use Fcntl; open(my $f, '>>', $ARGV[0]) or die; print fcntl($f, F_SETLK, my $l = pack('s s x4 q q l x4', F_WRLCK, 0, 0, 0, 0)) ? "free" : "busy"`, path], { encoding: 'utf8' });
  return r.stdout === 'free';
}

t.test('SIGKILL at every step leaves the old or the new shadow, never a damaged one', async (t) => {
  const r = rhelRoot(t);
  const shadow = join(r.mnt, 'etc/shadow');
  for (const [i, [step, expect]] of STEPS.entries()) {
    const before = readFileSync(shadow);
    const password = `pw-${i}-${step}`;
    await killAt(r.mnt, step, password);
    const after = readFileSync(shadow);
    if (expect === 'old') t.same(after, before, `${step}: exactly the old content`);
    else {
      const a = after.toString().split('\n');
      const b = before.toString().split('\n');
      t.same(a.slice(1), b.slice(1), `${step}: the other lines are the old ones`);
      t.ok(systemCryptVerifies(password, shadowLine(after.toString(), 'root')[1]), `${step}: exactly the new content (the new password verifies)`);
    }
    t.notOk(existsSync(join(r.mnt, 'etc/shadow+')) && expect === 'new', `${step}: no temporary file once renamed`);
    let free = false;
    for (let k = 0; k < 40 && !free; k++) {
      free = fcntlFree(join(r.mnt, 'etc/.pwd.lock'));
      if (!free) await new Promise((res) => setTimeout(res, 50));
    }
    t.ok(free, `${step}: the fcntl lock died with the writer`);
    const stale = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: 'x' });
    t.equal(stale.status, 5, `${step}: the leftover shadow.lock is reported`);
    t.match(stale.stderr, /stale lock \(process \d+ is not running\); re-run with --force/);
  }
  // a final clean run breaks the stale lock, removes the leftover temp file and leaves a consistent file
  const done = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin', '--force'], { input: 'final' });
  t.equal(done.status, 0, done.stderr);
  const final = readFileSync(shadow);
  t.ok(systemCryptVerifies('final', shadowLine(final.toString(), 'root')[1]));
  t.notOk(existsSync(join(r.mnt, 'etc/shadow+')));
  r.unmount();
  t.same(debugfsCat(r.image, '/etc/shadow'), final, 'and the image agrees after unmount');
});

t.test('the pause hook is ignored without RDRESCUE_TEST=1', async (t) => {
  const r = rhelRoot(t, { rw: true });
  const res = rdrescue(['passwd', 'root', '--root', r.mnt, '--password-stdin'], { input: 'pw', env: { ...process.env, RDRESCUE_TEST_PAUSE_AT: 'temp-written' }, timeout: 20000 });
  t.equal(res.status, 0, 'ran to the end');
  t.notMatch(res.stderr, /paused/);
});
