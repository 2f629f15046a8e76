/** Context lines around each change, as `diff -u` prints by default. */
const CONTEXT = 3;

/** Beyond this many differing lines the edit script is not worth its memory (O(D²)); the caller says "differ". */
export const MAX_EDIT_DISTANCE = 4000;

type Op = { kind: ' ' | '-' | '+'; line: string };

/**
 * Splits text into lines that keep their "\n", so a last line without one
 * differs from the same line with one, as in diff(1).
 */
function lines(text: string): string[] {
  const out = text.split(/(?<=\n)/);
  if (out.length && out[out.length - 1] === '') out.pop();
  return out;
}

/**
 * Myers' O(ND) shortest edit script between two line arrays (common head and
 * tail trimmed first). Returns undefined when more than MAX_EDIT_DISTANCE
 * lines differ.
 */
function editScript(a: string[], b: string[]): Op[] | undefined {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x0 = a.slice(head, a.length - tail);
  const y0 = b.slice(head, b.length - tail);
  const n = x0.length;
  const m = y0.length;
  const max = n + m;
  const middle: Op[] = [];
  if (max > 0) {
    const off = max + 1;
    const v = new Int32Array(2 * max + 3);
    const trace: Int32Array[] = [];
    let found = false;
    for (let d = 0; d <= max && !found; d++) {
      if (d > MAX_EDIT_DISTANCE) return undefined;
      trace.push(v.slice(off - d - 1, off + d + 2));
      for (let k = -d; k <= d; k += 2) {
        let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
        let y = x - k;
        while (x < n && y < m && x0[x] === y0[y]) {
          x++;
          y++;
        }
        v[off + k] = x;
        if (x >= n && y >= m) {
          found = true;
          break;
        }
      }
    }
    // Walk back through the saved frontiers: trace[d][j] is V[k] at the start of round d, for k = j - d - 1.
    let x = n;
    let y = m;
    for (let d = trace.length - 1; d > 0; d--) {
      const t = trace[d];
      const at = (k: number) => t[k + d + 1];
      const k = x - y;
      const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
      const pk = down ? k + 1 : k - 1;
      const px = at(pk);
      const py = px - pk;
      while (x > px && y > py) middle.push({ kind: ' ', line: x0[--x] }), y--;
      if (down) middle.push({ kind: '+', line: y0[--y] });
      else middle.push({ kind: '-', line: x0[--x] });
    }
    while (x > 0 && y > 0) middle.push({ kind: ' ', line: x0[--x] }), y--;
    middle.reverse();
  }
  return [...a.slice(0, head).map((line) => ({ kind: ' ' as const, line })), ...middle, ...a.slice(a.length - tail).map((line) => ({ kind: ' ' as const, line }))];
}

/** diff(1) prints deletions before insertions within one run of changes. */
function groupRuns(ops: Op[]): Op[] {
  const out: Op[] = [];
  for (let i = 0; i < ops.length; ) {
    if (ops[i].kind === ' ') {
      out.push(ops[i++]);
      continue;
    }
    let j = i;
    while (j < ops.length && ops[j].kind !== ' ') j++;
    const run = ops.slice(i, j);
    out.push(...run.filter((o) => o.kind === '-'), ...run.filter((o) => o.kind === '+'));
    i = j;
  }
  return out;
}

function range(start: number, count: number): string {
  // diff -u: an empty range names the line before it; a one-line range has no count.
  if (count === 0) return `${start - 1},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}

/**
 * A unified diff of two texts in the format of `diff -u` (3 lines of
 * context), with `labelA`/`labelB` on the --- and +++ lines. Returns "" for
 * equal texts and undefined when the texts differ in too many lines.
 */
export function unifiedDiff(textA: string, textB: string, labelA: string, labelB: string): string | undefined {
  const script = editScript(lines(textA), lines(textB));
  if (!script) return undefined;
  const ops = groupRuns(script);
  if (!ops.some((o) => o.kind !== ' ')) return '';
  const out: string[] = [`--- ${labelA}\n`, `+++ ${labelB}\n`];
  // Positions (1-based line numbers) of each op in A and B.
  const posA: number[] = [];
  const posB: number[] = [];
  let la = 1;
  let lb = 1;
  for (const o of ops) {
    posA.push(la);
    posB.push(lb);
    if (o.kind !== '+') la++;
    if (o.kind !== '-') lb++;
  }
  let i = 0;
  while (i < ops.length) {
    while (i < ops.length && ops[i].kind === ' ') i++;
    if (i >= ops.length) break;
    const start = Math.max(0, i - CONTEXT);
    // Extend the hunk while the next change is within 2 * CONTEXT unchanged lines.
    let end = i;
    for (;;) {
      while (end < ops.length && ops[end].kind !== ' ') end++;
      let gap = end;
      while (gap < ops.length && ops[gap].kind === ' ') gap++;
      if (gap < ops.length && gap - end <= 2 * CONTEXT) end = gap;
      else {
        end = Math.min(ops.length, end + CONTEXT);
        break;
      }
    }
    const hunk = ops.slice(start, end);
    const countA = hunk.filter((o) => o.kind !== '+').length;
    const countB = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(posA[start], countA)} +${range(posB[start], countB)} @@\n`);
    for (const o of hunk) {
      out.push(o.kind + o.line);
      if (!o.line.endsWith('\n')) out.push('\n\\ No newline at end of file\n');
    }
    i = end;
  }
  return out.join('');
}
