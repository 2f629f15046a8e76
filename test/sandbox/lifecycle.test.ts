// Signals pass through and everything is torn down: when the command ends,
// when the sandbox is killed, and when rdrescue itself is SIGKILLed (then the
// kernel does it: the mounts live only in the sandbox's mount namespace, and
// the namespace dies with its last process).
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE, rdrescue } from '../helpers/cli.js';
import { busyboxTree, hostLinks, mountChanges, mountTable, processesWith, startSandbox, waitFor } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'rdrescue-sbtest-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const tree = busyboxTree(join(work, 'tree'));

/** The host PID of the sandbox's PID 1: the process running `sleep <marker>`'s parent shell. */
async function sandboxInit(marker: string): Promise<number> {
  // The shell said "ready" just before it started sleep.
  await waitFor(() => processesWith(marker).length > 0);
  const [sleep] = processesWith(marker);
  const ppid = Number(readFileSync(`/proc/${sleep}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  // Never signal anything but the sandbox's own shell.
  if (!readFileSync(`/proc/${ppid}/cmdline`, 'utf8').includes(`sleep ${marker}`)) throw new Error(`parent ${ppid} of sleep ${marker} is not the sandbox shell`);
  return ppid;
}

t.test('--net veth: a private /30 to the host and nothing else, removed afterwards', async (t) => {
  const before = hostLinks();
  const r = rdrescue(['sandbox', tree, '--net', 'veth', '--', '/bin/sh', '-c', 'ip -o -4 addr show eth0; ip route; ping -c 1 -W 3 $RDRESCUE_SANDBOX_HOST > /dev/null && echo reached-host; ls /sys/class/net']);
  t.equal(r.status, 0, r.stderr);
  const note = /^rdrescue: sandbox link: host (rdsb\d+) (169\.254\.\d+\.\d+)\/30 <-> sandbox eth0 (169\.254\.\d+\.\d+)\/30\n$/.exec(r.stderr);
  t.ok(note, r.stderr);
  t.match(r.stdout, new RegExp(`inet ${note![3].replace(/\./g, '\\.')}/30`));
  t.match(r.stdout, /reached-host/);
  t.same(r.stdout.split('\n').filter((l) => /^[a-z0-9]+$/.test(l)), ['eth0', 'lo']);
  const routes = r.stdout.split('\n').filter((l) => / dev eth0 /.test(l));
  t.equal(routes.length, 1, 'one route: the /30 link, no default route');
  t.notOk(routes[0].startsWith('default'));
  t.same(hostLinks(), before, 'the host end is gone');
});

t.test('a command killed by a signal gives 128+N', async (t) => {
  const marker = '3141';
  const before = mountTable();
  const links = hostLinks();
  const s = await startSandbox([tree, '--net', 'veth', '--', '/bin/sh', '-c', `echo ready; sleep ${marker}; true`]);
  const init = await sandboxInit(marker);
  process.kill(init, 'SIGKILL');
  const { code } = await s.exited;
  t.equal(code, 137, s.stderr());
  t.same(processesWith(marker), []);
  t.same(mountChanges(before, mountTable(), [work]), []);
  t.same(hostLinks(), links, 'no veth left');
});

t.test('SIGTERM to rdrescue is forwarded to the command', async (t) => {
  const s = await startSandbox([tree, '--', '/bin/sh', '-c', 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done']);
  s.child.kill('SIGTERM');
  const { code } = await s.exited;
  t.equal(code, 9, 'the shell handled it and chose its status');
  t.match(s.stdout(), /got-term/);
});

t.test('a signal PID 1 has no handler for ends it as it would end any process (the kernel shields PID 1)', async (t) => {
  for (const [sig, status, marker] of [['SIGTERM', 143, '2718'], ['SIGINT', 130, '2719']] as const) {
    const s = await startSandbox([tree, '--', '/bin/sh', '-c', `echo ready; exec sleep ${marker}`]);
    t.ok(await waitFor(() => processesWith(marker).length === 1));
    const sent = Date.now();
    s.child.kill(sig);
    t.equal((await s.exited).code, status, `${sig}: ${s.stderr()}`);
    t.ok(Date.now() - sent < 4000, 'at once, not after the grace period');
    t.same(processesWith(marker), []);
  }
});

t.test('SIGTERM to a command that ignores it: SIGKILL after the grace period, status 128+15', async (t) => {
  const marker = '2720';
  const s = await startSandbox([tree, '--', '/bin/sh', '-c', `trap "" TERM; echo ready; sleep ${marker}; true`]);
  t.ok(await waitFor(() => processesWith(marker).length === 1));
  const sent = Date.now();
  s.child.kill('SIGTERM');
  t.equal((await s.exited).code, 143);
  t.ok(Date.now() - sent >= 4500, 'the command had its grace period');
  t.ok(await waitFor(() => processesWith(marker).length === 0));
});

t.test('SIGKILL of rdrescue itself leaves nothing behind: no process, mount, veth or temp dir', async (t) => {
  const marker = '1618';
  const before = mountTable();
  const links = hostLinks();
  const s = await startSandbox([tree, '--net', 'veth', '--', '/bin/sh', '-c', `echo ready; sleep ${marker}; true`]);
  t.ok(await waitFor(() => processesWith(marker).length === 1), 'the command runs');
  t.equal(hostLinks().length, links.length + 1, 'the veth host end exists while it runs');
  s.child.kill('SIGKILL');
  await s.exited;
  t.ok(await waitFor(() => processesWith(marker).length === 0), 'the sandbox died with rdrescue');
  // The kernel removes the pair when the network namespace is freed, a moment after its last process.
  t.ok(await waitFor(() => hostLinks().length === links.length), 'the veth pair is gone');
  t.same(mountChanges(before, mountTable(), [work]), []);
});

t.test('an image: the temporary tree is removed, also after the sandbox is killed; a SIGKILLed run is swept by the next', async (t) => {
  const tmp = join(work, 'tmp');
  execFileSync('mkdir', [tmp]);
  const img = join(work, 'busybox.cpio');
  execFileSync('sh', ['-c', `cd ${tree} && find . | cpio -o -H newc --quiet > ${img}`]);
  const env = { ...process.env, TMPDIR: tmp };

  const r = rdrescue(['sandbox', img, '--', '/bin/sh', '-c', 'ls /bin/busybox'], { env });
  t.equal(r.stdout, '/bin/busybox\n', r.stderr);
  t.same(readdirSync(tmp), [], 'removed after a normal exit');

  const marker = '1414';
  const killed = await startSandbox([img, '--', '/bin/sh', '-c', `echo ready; sleep ${marker}; true`], env);
  process.kill(await sandboxInit(marker), 'SIGKILL');
  t.equal((await killed.exited).code, 137);
  t.same(readdirSync(tmp), [], 'removed after the sandbox was killed');

  const orphan = await startSandbox([img, '--', '/bin/sh', '-c', `echo ready; sleep ${marker}; true`], env);
  orphan.child.kill('SIGKILL');
  await orphan.exited;
  t.ok(await waitFor(() => processesWith(marker).length === 0));
  t.same(readdirSync(tmp).map((n) => n.replace(/-[^-]+$/, '')), [`rdrescue-sandbox-${orphan.child.pid}`], 'a SIGKILL cannot be caught: the extracted tree stays');
  const next = rdrescue(['sandbox', img, '--', '/bin/true'], { env });
  t.equal(next.status, 0, next.stderr);
  t.same(readdirSync(tmp), [], 'the next run removed it');
});

t.test('on a terminal: the shell reads it, is PID 1 with job control, and Ctrl-C stops only the foreground command', async (t) => {
  // util-linux script gives rdrescue a pseudo-terminal and passes our bytes to it, \x03 included.
  const child = spawn('script', ['-qec', `${process.execPath} ${BUNDLE} sandbox ${tree}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  const until = async (re: RegExp) => t.ok(await waitFor(() => re.test(out), 10000), `saw ${re}`);
  await until(/# /);
  child.stdin.write('echo pid=$$\n');
  await until(/pid=1/);
  child.stdin.write('sleep 4321\n');
  t.ok(await waitFor(() => processesWith('4321').length === 1), 'sleep runs');
  child.stdin.write('\x03');
  t.ok(await waitFor(() => processesWith('4321').length === 0), 'Ctrl-C ended sleep');
  child.stdin.write('echo still-here\n');
  await until(/still-here\r?\n/);
  child.stdin.end('exit 6\n');
  t.equal(await exited, 6);
});
