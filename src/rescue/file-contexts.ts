import { readTargetText } from './target.js';
import type { SelinuxState } from './facts.js';

/**
 * The SELinux label the target's policy gives a path, read from its
 * file_contexts text files the way libselinux's label_file does: each line
 * is `REGEX [TYPE] CONTEXT`, anchored at both ends; lines without regex
 * characters are tried before all others, and among each group the last
 * line that matches wins (file_contexts.local and .homedirs after the base
 * file); .subs and .subs_dist map an alias prefix to the path it labels as.
 * Used for files rdrescue creates: an existing file keeps its own label.
 */
interface Spec {
  re: RegExp;
  kind?: string;
  context: string;
  exact: boolean;
}

const KIND: Record<string, string> = { '--': 'file', '-d': 'dir', '-l': 'link', '-b': 'block', '-c': 'char', '-p': 'fifo', '-s': 'socket' };

function contextsDir(se: SelinuxState): string {
  return `etc/selinux/${se.type ?? 'targeted'}/contexts/files`;
}

function parseSpecs(text: string): Spec[] {
  const out: Spec[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!f[0] || f[0].startsWith('#') || f.length < 2) continue;
    const kind = f.length >= 3 ? KIND[f[1]] : undefined;
    if (f.length >= 3 && !kind) continue;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${f[0]})$`);
    } catch {
      continue; // a PCRE construct JavaScript lacks: that line cannot decide
    }
    out.push({ re, kind, context: f[f.length - 1], exact: !/[.^$?*+|[({\\]/.test(f[0]) });
  }
  return out;
}

function substitutions(root: string, dir: string): Array<[string, string]> {
  return ['file_contexts.subs_dist', 'file_contexts.subs'].flatMap((n) =>
    (readTargetText(root, `${dir}/${n}`) ?? '').split('\n').flatMap((l): Array<[string, string]> => {
      const f = l.trim().split(/\s+/);
      return f.length === 2 && !f[0].startsWith('#') ? [[f[0], f[1]]] : [];
    }),
  );
}

/** The context (e.g. "system_u:object_r:ssh_home_t:s0") for `path` in the target, or undefined when the policy's text files are not there or say <<none>>. */
export function policyLabel(root: string, se: SelinuxState, path: string, kind: 'file' | 'dir'): string | undefined {
  const dir = contextsDir(se);
  const base = readTargetText(root, `${dir}/file_contexts`);
  if (base === undefined) return undefined;
  const specs = [base, readTargetText(root, `${dir}/file_contexts.homedirs`) ?? '', readTargetText(root, `${dir}/file_contexts.local`) ?? ''].flatMap(parseSpecs);
  let p = path;
  for (const [alias, real] of substitutions(root, dir)) if (p === alias || p.startsWith(`${alias}/`)) p = real + p.slice(alias.length);
  const ordered = [...specs.filter((s) => !s.exact), ...specs.filter((s) => s.exact)];
  for (let i = ordered.length - 1; i >= 0; i--) {
    const s = ordered[i];
    if ((s.kind === undefined || s.kind === kind) && s.re.test(p)) return s.context === '<<none>>' ? undefined : s.context;
  }
  return undefined;
}

/** A context as the kernel stores it in security.selinux: the string and its NUL, as hex. */
export function labelXattr(context: string): string {
  return Buffer.from(`${context}\0`, 'latin1').toString('hex');
}
