import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** The pages a reader can reach from the README: README.md, docs/ and the hooks' own README. */
function pages(): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md')).map((n) => join(root, 'docs', n));
  return [join(root, 'README.md'), join(root, 'initramfs-hooks', 'README.md'), ...docs];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of withoutCode(markdown).matchAll(/^#{1,6}\s+(.+)$/gm)) {
    out.add(m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return out;
}

/** Fenced blocks and inline code hold shell text such as `[a](b)`, which is no link. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

for (const page of pages()) {
  t.test(relative(root, page), async (t) => {
    const text = readFileSync(page, 'utf8');
    const links = [...withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/i.test(l));
    for (const link of links) {
      const [path, anchor] = link.split('#');
      const target = path === '' ? page : join(dirname(page), path);
      if (!existsSync(target)) {
        t.fail(`${link}: ${relative(root, target)} does not exist`);
        continue;
      }
      if (anchor !== undefined && statSync(target).isFile()) {
        t.ok(anchors(readFileSync(target, 'utf8')).has(anchor), `${link}: #${anchor} is a heading of ${relative(root, target)}`);
      } else {
        t.pass(link);
      }
    }
  });
}

t.test('docs/README.md indexes every page in docs/', async (t) => {
  const index = readFileSync(join(root, 'docs', 'README.md'), 'utf8');
  for (const n of readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md') && n !== 'README.md')) {
    t.ok(index.includes(`](${n})`), `docs/README.md links ${n}`);
  }
});

t.test('the README is a front page', async (t) => {
  const size = statSync(join(root, 'README.md')).size;
  t.ok(size <= 10 * 1024, `README.md is ${size} bytes, at most 10 KiB; put the reference in docs/`);
});
