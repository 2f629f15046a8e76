import type { CheckReport } from './check.js';

/** The verdict for people: how each input was found, one line per finding, and a last line with the answer. */
export function formatCheck(r: CheckReport): string {
  const lines = [`check of ${r.image} for kernel ${r.kernel ?? 'unknown'} and the root ${r.root}`];
  for (const n of r.notes) lines.push(`  ${n}`);
  for (const f of r.findings) lines.push(`${f.level}: ${f.code}: ${f.message}`);
  const errors = r.findings.filter((f) => f.level === 'error').length;
  const warnings = r.findings.length - errors;
  const count = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  lines.push(errors ? `FAIL: ${count(errors, 'error')}, ${count(warnings, 'warning')}: this image will not boot as it is` : `OK: no error${warnings ? `, ${count(warnings, 'warning')}` : ''}`);
  return lines.join('\n') + '\n';
}
