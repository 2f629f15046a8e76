/**
 * Where a stored name lands, relative to the extraction root: the path the
 * kernel would create with "/" as its root. Leading "/" and "./" go, and ".."
 * cannot climb above the root (as in a chroot), which is what
 * `cpio --no-absolute-filenames` is for. Returns "" for the root itself.
 */
export function normalizeName(name: string): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

/** Shell glob (fnmatch without FNM_PATHNAME, as cpio matches patterns): * ? [..] and \ escapes. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < glob.length) re += escapeRe(glob[++i]);
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp('^' + re + '$', 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Builds a name filter from globs. A name matches when the glob matches it as
 * stored or in its normalised form, so `usr/bin/*` also finds `./usr/bin/sh`.
 */
export function nameFilter(patterns: readonly string[] | undefined): (name: string) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const res = patterns.map((p) => globToRegExp(normalizeName(p) || p));
  const raw = patterns.map(globToRegExp);
  return (name) => {
    const n = normalizeName(name);
    return res.some((r) => r.test(n)) || raw.some((r) => r.test(name));
  };
}
