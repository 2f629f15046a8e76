import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProgram } from '../../src/commands/program.js';
import { examplesOf } from '../../src/commands/examples.js';
import { manPage } from '../../src/commands/man-page.js';
import { VERSION } from '../../src/version.js';
import { rdrescue } from '../helpers/cli.js';

const root = join(import.meta.dirname, '..', '..');
const program = createProgram();
const commands = program.commands.filter((c) => c.name() !== 'help');
const page = manPage(program, VERSION);

t.test('every command has two or three examples, and its --help ends with them', async (t) => {
  for (const c of commands) {
    const ex = examplesOf(c);
    t.ok(ex.length >= 2 && ex.length <= 3, `${c.name()} has ${ex.length} examples`);
    const r = rdrescue([c.name(), '--help']);
    t.equal(r.status, 0, `${c.name()} --help`);
    const tail = ex.map((e) => `  ${e.run}\n      ${e.does}\n`).join('');
    t.ok(r.stdout.endsWith(`\nExamples:\n${tail}`), `${c.name()} --help ends with its examples`);
    for (const e of ex) t.match(e.run, new RegExp(`^(\\S+=\\S+ )?rdrescue ${c.name()}\\b`), `${c.name()}: an example runs ${c.name()}`);
  }
});

t.test('the man page renders with no warning from man or groff', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rdrescue-man-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rdrescue.1');
  writeFileSync(file, page);
  const man = spawnSync('man', ['--warnings=w', '-l', file], { env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' }, encoding: 'utf8' });
  t.equal(man.status, 0, man.stderr);
  t.equal(man.stderr, '', 'man --warnings prints nothing on stderr');
  t.match(man.stdout, /^RDRESCUE\(1\)/);
  const groff = spawnSync('groff', ['-man', '-ww', '-z', file], { encoding: 'utf8' });
  t.equal(groff.status, 0);
  t.equal(groff.stderr, '', 'groff -ww prints no warning');
  for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'EXAMPLES', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'SEE ALSO']) {
    t.match(man.stdout, new RegExp(`^${s}$`, 'm'), `section ${s}`);
  }
  for (const c of commands) {
    t.match(man.stdout, new RegExp(`^ {3}rdrescue ${c.name()} `, 'm'), `rdrescue ${c.name()} has its subsection`);
    for (const o of c.options) t.ok(man.stdout.includes(o.long ?? o.short!), `${c.name()} ${o.flags}`);
    for (const e of examplesOf(c)) t.ok(man.stdout.replace(/\s+/g, ' ').includes(e.run), `${c.name()} example: ${e.run}`);
  }
});

t.test('dist/rdrescue.1, built by npm run build, is current', async (t) => {
  t.equal(readFileSync(join(root, 'dist', 'rdrescue.1'), 'utf8'), page, 'rebuild with: npm run build');
});
