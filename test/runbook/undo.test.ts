// status --undo after a runbook `write` that changed a file's mode and owner:
// the file must come back exactly, content, mode (setuid bits included), uid
// and gid, and debugfs must read the same from the filesystem image.
import t from 'tap';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';
import { debugfsCat, debugfsStat } from '../helpers/ext4.js';
import { readJournal } from '../../src/index.js';
import { lockedOutRoot } from './helpers.js';

const books = mkdtempSync(join(tmpdir(), 'rdrescue-undo-books-'));
t.teardown(() => rmSync(books, { recursive: true, force: true }));

function runbook(name: string, yaml: string): string {
  const f = join(books, name);
  writeFileSync(f, yaml);
  return f;
}

const ISSUE_OLD = 'old issue\n';
const HELPER_OLD = '#!/bin/sh\necho old helper\n';

t.test('undo after a runbook write puts back content, mode, uid and gid', async (t) => {
  const r = lockedOutRoot(t, {
    prepare: (s) => {
      writeFileSync(join(s, 'etc/issue'), ISSUE_OLD);
      chownSync(join(s, 'etc/issue'), 0, 0);
      chmodSync(join(s, 'etc/issue'), 0o644);
      mkdirSync(join(s, 'usr/local/sbin'), { recursive: true });
      writeFileSync(join(s, 'usr/local/sbin/helper'), HELPER_OLD);
      chownSync(join(s, 'usr/local/sbin/helper'), 0, 10);
      chmodSync(join(s, 'usr/local/sbin/helper'), 0o4750);
    },
  });
  const issue = join(r.mnt, 'etc/issue');
  const helper = join(r.mnt, 'usr/local/sbin/helper');
  const meta = (f: string) => {
    const st = statSync(f);
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  };
  t.same(meta(helper), { mode: 0o4750, uid: 0, gid: 10 }, 'the setuid helper as prepared');

  const book = runbook(
    'write.yaml',
    'version: 1\nsteps:\n' +
      '  - write: { path: /etc/issue, content: "new issue\\n", mode: "0600", owner: "alice:wheel" }\n' +
      '  - write: { path: /usr/local/sbin/helper, content: "#!/bin/sh\\necho new\\n", mode: "0755", owner: "bob:bob" }\n',
  );
  let res = rdrescue(['run', book, '--root', r.mnt, '--yes']);
  t.equal(res.status, 0, res.stderr);
  t.same(meta(issue), { mode: 0o600, uid: 1000, gid: 10 }, 'the write changed mode and owner of /etc/issue');
  t.same(meta(helper), { mode: 0o755, uid: 1001, gid: 1001 }, 'and of the helper');

  res = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']);
  t.equal(res.status, 0, res.stderr);
  t.equal(readFileSync(helper, 'utf8'), HELPER_OLD, 'helper content back');
  t.same(meta(helper), { mode: 0o4750, uid: 0, gid: 10 }, 'helper mode (with setuid), uid and gid back');
  t.equal(readFileSync(issue, 'utf8'), 'new issue\n', 'the other step is not undone yet');

  res = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']);
  t.equal(res.status, 0, res.stderr);
  t.equal(readFileSync(issue, 'utf8'), ISSUE_OLD, '/etc/issue content back');
  t.same(meta(issue), { mode: 0o644, uid: 0, gid: 0 }, '/etc/issue mode, uid and gid back');

  // A write that changes only mode and owner (same content) is undone as the newest change, not skipped over.
  const chmodOnly = runbook('chmod.yaml', `version: 1\nsteps:\n  - write: { path: /etc/issue, content: ${JSON.stringify(ISSUE_OLD)}, mode: "0640", owner: "alice:alice" }\n`);
  res = rdrescue(['run', chmodOnly, '--root', r.mnt, '--yes']);
  t.equal(res.status, 0, res.stderr);
  t.same(meta(issue), { mode: 0o640, uid: 1000, gid: 1000 });
  const entry = readJournal(r.mnt).filter((e) => e.action === 'write').at(-1)!;
  res = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST']);
  t.equal(res.status, 0, res.stderr);
  t.equal(readJournal(r.mnt).at(-1)!.undoes, entry.id, 'undo LAST undid the metadata-only write');
  t.same(meta(issue), { mode: 0o644, uid: 0, gid: 0 }, 'mode and owner back after a metadata-only write');
  t.equal(readFileSync(issue, 'utf8'), ISSUE_OLD);

  // The filesystem itself, read without the kernel's cache.
  r.unmount();
  t.equal(debugfsCat(r.image, '/etc/issue').toString(), ISSUE_OLD);
  t.same(debugfsStat(r.image, '/etc/issue'), { mode: 0o644, uid: 0, gid: 0 });
  t.equal(debugfsCat(r.image, '/usr/local/sbin/helper').toString(), HELPER_OLD);
  t.same(debugfsStat(r.image, '/usr/local/sbin/helper'), { mode: 0o4750, uid: 0, gid: 10 });
});

t.test('a journal edited to carry a bogus mode or owner is refused, the file left as it is', async (t) => {
  const r = lockedOutRoot(t, { rw: true, prepare: (s) => writeFileSync(join(s, 'etc/issue'), ISSUE_OLD) });
  mkdirSync(join(r.mnt, 'var/lib/rdrescue/undo/1'), { recursive: true });
  writeFileSync(join(r.mnt, 'var/lib/rdrescue/undo/1/x'), 'planted\n');
  const entry = { id: 1, time: '2026-01-01T00:00:00Z', action: 'write', summary: [], files: [{ path: '/etc/issue', existed: true, saved: '/var/lib/rdrescue/undo/1/x', meta: { mode: '4755', uid: -1, gid: 0 } }] };
  writeFileSync(join(r.mnt, 'var/log/rdrescue.log'), JSON.stringify(entry) + '\n');
  const res = rdrescue(['status', '--root', r.mnt, '--undo', 'LAST', '--force']);
  t.equal(res.status, 3);
  t.equal(res.stderr, 'rdrescue: /etc/issue: entry 1 records no valid mode and owner for it; the journal was edited\n');
  t.equal(readFileSync(join(r.mnt, 'etc/issue'), 'utf8'), ISSUE_OLD);
});
