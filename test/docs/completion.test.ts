import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rdrescue } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rdrescue-completion-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// A working directory with an image, an EFI file, a text file and a directory.
const cwd = join(dir, 'work');
mkdirSync(join(cwd, 'sub'), { recursive: true });
for (const f of ['a.img', 'c.efi', 'b.txt']) writeFileSync(join(cwd, f), '');

function script(shell: string): string {
  const r = rdrescue(['completion', shell]);
  if (r.status !== 0) throw new Error(r.stderr);
  const file = join(dir, `rdrescue.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

t.test('bash: sourcing defines the completion; rdrescue ex<TAB> gives extract', async (t) => {
  const file = script('bash');
  /** COMPREPLY for the words typed so far, the last one being completed, as bash's programmable completion calls it. */
  const complete = (...words: string[]) => {
    const r = spawnSync(
      'bash',
      ['-c', 'source "$0"; complete -p rdrescue >&2; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _rdrescue; printf "%s\\n" "${COMPREPLY[@]}"', file, ...words],
      { cwd, encoding: 'utf8' },
    );
    t.equal(r.status, 0);
    t.equal(r.stderr, 'complete -F _rdrescue rdrescue\n', 'complete -F _rdrescue rdrescue is defined');
    return r.stdout.split('\n').filter(Boolean).sort();
  };
  t.same(complete('rdrescue', 'ex'), ['extract']);
  t.same(complete('rdrescue', 'co'), ['completion']);
  t.same(complete('rdrescue', 'info', '--j'), ['--json']);
  const images = complete('rdrescue', 'info', '');
  t.ok(images.includes('a.img') && images.includes('c.efi') && images.includes('sub'), `images and directories: ${images}`);
  t.notOk(images.includes('b.txt'), 'no other files where an image is expected');
  t.same(complete('rdrescue', 'extract', 'a.img', ''), ['sub'], 'a directory after the image');
  t.same(complete('rdrescue', 'passwd', '--root', ''), ['sub'], '--root takes a directory');
  t.same(complete('rdrescue', 'passwd', 'roo'), ['root'], 'user names');
  t.same(complete('rdrescue', 'repack', 'sub', '--compress', 'z'), ['zstd']);
  t.same(complete('rdrescue', 'completion', ''), ['bash', 'fish', 'zsh']);
  t.same(complete('rdrescue', 'add', 'a.img', '-o', 'new.img', 'b'), ['b.txt'], 'any file where a file is expected');
});

t.test('zsh: rdrescue ex<TAB> completes to extract at an interactive prompt', async (t) => {
  const file = script('zsh');
  t.equal(spawnSync('zsh', ['-n', file]).status, 0, 'zsh -n');
  // zpty gives the interactive zsh a terminal; the line it echoes after TAB is what completion made of it.
  const driver = `
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'PS1="> "; autoload -U compinit; compinit -u -d ${dir}/zcompdump; source ${file}'
sleep 1
zpty -w -n z $'rdrescue ex\\t'
sleep 1
zpty -w -n z $'\\x15exit\\n'
sleep 0.5
while zpty -r z line; do print -r -- "$line"; done
zpty -d z`;
  const r = spawnSync('zsh', ['-f', '-c', driver], { cwd, encoding: 'utf8', timeout: 30_000 });
  t.match(r.stdout, /rdrescue extract/);
});

t.test('fish: complete -C "rdrescue ex" gives extract; images where an image is expected', async (t) => {
  const file = script('fish');
  const complete = (line: string) => {
    const r = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C ${JSON.stringify(line)}`], { cwd, encoding: 'utf8' });
    t.equal(r.stderr, '');
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]).sort();
  };
  t.same(complete('rdrescue ex'), ['extract']);
  t.same(complete('rdrescue info --j'), ['--json']);
  const images = complete('rdrescue info ');
  t.ok(images.includes('a.img') && images.includes('c.efi') && images.includes('sub/'), `images: ${images}`);
  t.notOk(images.includes('b.txt'));
});

t.test('an unknown shell is a usage error', async (t) => {
  const r = rdrescue(['completion', 'tcsh']);
  t.equal(r.status, 2);
  t.match(r.stderr, /'tcsh' is invalid .* bash, zsh, fish/);
});
