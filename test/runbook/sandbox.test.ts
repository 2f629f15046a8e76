// run --sandbox as a library call: the runbook applied to the sandbox
// library's copy-on-write view, the changes described, the target untouched.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isReadOnly } from '../rescue/helpers.js';
import { formatSandboxChanges, loadRunbook, runRunbookInSandbox } from '../../src/index.js';
import { RUNBOOKS, lockedOutRoot } from './helpers.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

t.test('the example runbook in a sandbox: changes with diffs, the image byte-identical', async (t) => {
  const r = lockedOutRoot(t);
  const before = sha(r.image);
  const { report, changes } = await runRunbookInSandbox(loadRunbook(join(RUNBOOKS, 'rescue.yaml')), r.mnt);
  t.ok(report.ok);
  t.equal(report.root, r.mnt, 'the report names the real target');
  t.ok(report.sandbox);
  const byPath = new Map(changes.map((c) => [c.path, c]));
  t.match(byPath.get('/etc/motd'), { change: 'added', type: 'file', diff: /\+Repaired by rdrescue runbook\./ });
  t.match(byPath.get('/etc/fstab'), { change: 'modified', diff: /-LABEL=backup[^\n]*\n\+#LABEL=backup/ });
  t.match(byPath.get('/home/alice/.ssh'), { change: 'added', type: 'dir', notes: ['mode 0700, owner 1000:1000'] });
  t.notMatch(byPath.get('/etc/shadow')?.diff, /\$6\$[./0-9A-Za-z]/, 'hashes redacted');
  const undo = changes.filter((c) => c.path.startsWith('/var/lib/rdrescue/undo/') && c.type === 'file');
  t.ok(undo.length >= 2 && undo.every((c) => c.diff === undefined), 'undo copies are listed without content');
  t.match(formatSandboxChanges(changes).join('\n'), /copies of replaced files, kept for rdrescue status --undo/);
  t.ok(isReadOnly(r.mnt));
  t.notOk(existsSync(join(r.mnt, 'etc/motd')));
  r.unmount();
  t.equal(sha(r.image), before, 'the image is byte-identical');
});

t.test('a hostile runbook is refused before any view is set up', async (t) => {
  const r = lockedOutRoot(t);
  await t.rejects(runRunbookInSandbox(loadRunbook(join(RUNBOOKS, 'hostile', 'ssh-key-unknown-user.yaml')), r.mnt), /unknown user "mallory"/);
});
