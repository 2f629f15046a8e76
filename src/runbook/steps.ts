import { existsSync, realpathSync } from 'node:fs';
import { RdError, EXIT } from '../errors.js';
import { planChroot, runChroot } from '../rescue/chroot.js';
import { selinuxState } from '../rescue/facts.js';
import { planFstabDisable, planFstabNofail } from '../rescue/fstab.js';
import { appendJournal, nextJournalId } from '../rescue/journal.js';
import { planRemount } from '../rescue/mounts.js';
import { remount as remountTarget } from '../rescue/remount.js';
import { loadUserShadow, planPassword } from '../rescue/passwd.js';
import { applyPlan, describePlan, type Plan } from '../rescue/plan.js';
import { planSummary } from '../rescue/cli-support.js';
import { AUTORELABEL, SUSE_AUTORELABEL } from '../rescue/labels.js';
import { planRelabel } from '../rescue/relabel.js';
import { planUnlock } from '../rescue/unlock.js';
import { verifySha512crypt } from '../rescue/sha512crypt.js';
import { isExpired } from '../rescue/shadow.js';
import { resolveInRoot } from '../rescue/target.js';
import { checkImage } from '../check/check.js';
import { targetUser } from './accounts.js';
import { applyFilePlan, describeFilePlan, type FilePlan } from './file-plan.js';
import { checkSshKey, planSshKey } from './ssh-key.js';
import { resolveWithinTarget } from './target-path.js';
import { planWriteFile } from './write-file.js';
import type { JsonSchema } from './validate.js';

/**
 * The step table: each kind of runbook step with its JSON Schema (schema.ts
 * assembles the published schema from these) and how it is planned and
 * applied, always through the same rescue-library functions the matching
 * CLI command calls (planPassword, planUnlock, planFstabDisable, ...).
 */
export interface StepContext {
  /** Where files are read and written (the copy-on-write view under --sandbox). */
  root: string;
  /** What `remount` acts on: the real target. */
  mountRoot: string;
  sandbox: boolean;
  /** For `remount: rw`: whether a later step (before the next remount) has something to change. */
  writesFollow: () => boolean;
  /** When planning a whole runbook: how the earlier steps will have left the target (undefined: as it is now). */
  mountedAs?: () => 'ro' | 'rw' | undefined;
  /** When planning a whole runbook: what the earlier steps change. */
  earlierChanges?: () => StepChange[];
}

export interface StepChange {
  path: string;
  /** create, modify, remove (file content), metadata, mount, run. */
  change: string;
  backup?: string;
  description: string[];
}

export interface PlannedStep {
  satisfied: boolean;
  /** What would happen, for people (never a password or hash). */
  lines: string[];
  changes: StepChange[];
  apply(): Promise<{ lines: string[]; journalId?: number }>;
  /** How applying it leaves the target's mount, when it remounts. */
  remounts?: 'ro' | 'rw';
}

/** A step as loaded from a runbook: kind, its argument, and a secret read from password_file/password_env. */
export interface RunbookStep {
  index: number;
  kind: StepKindName;
  arg: unknown;
  /** Line in the runbook file (1-based). */
  line: number;
  secret?: string;
}

interface StepKind<A> {
  schema: JsonSchema;
  label(arg: A): string;
  /** Checks against the target before anything is changed (hostile input is refused here). */
  check?(arg: A, root: string): void;
  /** Target paths it writes under: the target's own filesystems holding them are mounted around it. */
  writesUnder?(arg: A, root: string): string[];
  plan(arg: A, ctx: StepContext, step: RunbookStep): PlannedStep;
  /** Runs before any step of `run` applies anything; throwing stops the runbook with nothing changed. */
  gate?(arg: A, root: string): Promise<void>;
}

/** Under --sandbox the view is always writable and the real target's mount is never touched. */
function inView(plan: Plan, ctx: StepContext): Plan {
  return ctx.sandbox ? { ...plan, remount: undefined } : plan;
}

function fromPlan(p: Plan, ctx: StepContext): PlannedStep {
  const plan = inView(p, ctx);
  return {
    satisfied: plan.satisfied,
    lines: describePlan(plan),
    changes: planSummary(plan).changes,
    remounts: plan.remount?.changed ? plan.remount.to : undefined,
    apply: async () => {
      const r = await applyPlan(plan);
      return { lines: describePlan({ ...plan, notes: r.notes }, true), journalId: r.journalId };
    },
  };
}

function fromFilePlan(f: FilePlan, ctx: StepContext): PlannedStep {
  const fp = { ...f, plan: inView(f.plan, ctx) };
  const meta = [...fp.before, ...fp.after].map((m): StepChange => ({ path: m.path, change: 'metadata', description: [m.what] }));
  return {
    satisfied: fp.satisfied,
    remounts: fp.plan.remount?.changed ? fp.plan.remount.to : undefined,
    lines: describeFilePlan(fp),
    changes: [...planSummary(fp.plan).changes, ...(fp.plan.changes.length ? [] : meta)],
    apply: async () => {
      const r = await applyFilePlan(fp);
      return { lines: describeFilePlan({ ...fp, plan: { ...fp.plan, notes: r.notes } }, true), journalId: r.journalId };
    },
  };
}

function satisfied(lines: string[]): PlannedStep {
  return { satisfied: true, lines, changes: [], apply: async () => ({ lines }) };
}

function requireUser(root: string, user: string): void {
  if (!targetUser(root, user)) throw new RdError(`unknown user ${JSON.stringify(user)}: not in the target's /etc/passwd`, {}, EXIT.badInput);
}

const USER: JsonSchema = { type: 'string', pattern: '^[^:\\s]+$', description: 'an account name in the target (no ":" or spaces)' };
const TARGET_PATH: JsonSchema = { type: 'string', pattern: '^/', description: 'an absolute path inside the target' };

type PasswdArg = { user: string; hash?: string; password_file?: string; password_env?: string; clear_expiry?: boolean };

const remount: StepKind<'rw' | 'ro'> = {
  schema: { enum: ['rw', 'ro'], description: 'remount the target root rw (only when a later step has something to write) or ro' },
  label: (a) => `remount ${a}`,
  plan(mode, ctx) {
    const now = planRemount(ctx.mountRoot, mode);
    // an earlier step of the same plan may open or close the target first: plan against what run will find
    const from = ctx.mountedAs?.() ?? now.from;
    const r = { ...now, from, changed: from !== mode };
    if (!r.changed) return satisfied([`remount ${mode}: ${r.mountPoint} is already ${mode}${from !== now.from ? ' (by then)' : ''}`]);
    if (ctx.sandbox) return satisfied([`remount ${mode}: on the real target this remounts ${r.mountPoint} ${mode}; the sandbox view is writable, so it is skipped`]);
    if (mode === 'rw' && !ctx.writesFollow()) return satisfied([`remount rw: no later step has anything to write; ${r.mountPoint} stays ro`]);
    // a target that is a directory inside a bigger filesystem (a tree on a rescue host): remounting would hit that whole filesystem
    if (r.mountPoint !== realpathSync(ctx.mountRoot)) throw new RdError(`the target ${ctx.mountRoot} is not a mount point: remounting ${mode} would remount ${r.mountPoint} (${r.device}) as a whole; mount the target on its own, or drop the remount step`, {}, EXIT.refused);
    const lines = [`would: remount ${r.mountPoint} (${r.device}) ${mode}`, ...r.warnings.map((w) => `warning: ${w}`)];
    return {
      satisfied: false,
      lines,
      remounts: mode,
      changes: [{ path: r.mountPoint, change: 'mount', description: [`remount ${mode}`] }],
      apply: async () => {
        // the same library call as `rdrescue remount`, which journals it while the target is writable
        const done = remountTarget({ root: ctx.mountRoot, mode });
        return { lines: [`${done.applied ? 'remounted' : 'already'} ${done.mountPoint} ${mode}`, ...done.warnings.map((w) => `warning: ${w}`)] };
      },
    };
  },
};

const passwd: StepKind<PasswdArg> = {
  schema: {
    type: 'object',
    description: 'set a password from a crypt hash (make one with `rdrescue hash`), a file holding the password, or an environment variable',
    properties: {
      user: USER,
      hash: { type: 'string', pattern: '^[^:\\s]+$', description: 'a crypt(3) string such as $6$…, from `rdrescue hash`' },
      password_file: { type: 'string', minLength: 1, description: 'a file holding the password (relative to the runbook)' },
      password_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'an environment variable name' },
      clear_expiry: { type: 'boolean', description: "also clear the account's expiry date if it has passed" },
      password: { not: {}, description: 'a plain password in a runbook is refused: put its hash in `hash:` instead (run `rdrescue hash` to make one), or use password_file/password_env' },
    },
    required: ['user'],
    additionalProperties: false,
    oneOf: [{ required: ['hash'] }, { required: ['password_file'] }, { required: ['password_env'] }],
  },
  label: (a) => `passwd ${a.user}`,
  check: (a, root) => requireUser(root, a.user),
  plan(a, ctx, step) {
    const cur = loadUserShadow(ctx.root, a.user).entry;
    const same = a.hash !== undefined ? cur.password === a.hash : cur.password.startsWith('$6$') && verifySha512crypt(step.secret!, cur.password) === true;
    if (same && !(a.clear_expiry && isExpired(cur))) return satisfied([`passwd ${a.user}: the password is already the one asked for; nothing to change`]);
    const plan = planPassword(ctx.root, { user: a.user, hash: a.hash, password: a.hash === undefined ? step.secret : undefined, clearExpiry: a.clear_expiry });
    // the library speaks in CLI options; a runbook has fields
    return fromPlan({ ...plan, notes: plan.notes.map((n) => n.replace('add --clear-expiry', 'add clear_expiry: true to the step')) }, ctx);
  },
};

const unlock: StepKind<{ user: string }> = {
  schema: { type: 'object', description: 'remove the "!" lock, a passed expiry and the faillock tally', properties: { user: USER }, required: ['user'], additionalProperties: false },
  label: (a) => `unlock ${a.user}`,
  check: (a, root) => requireUser(root, a.user),
  plan: (a, ctx) => fromPlan(planUnlock(ctx.root, { user: a.user }), ctx),
};

const fstab: StepKind<{ disable?: string; nofail?: string }> = {
  schema: {
    type: 'object',
    description: 'comment out the fstab entry of a mount point, or add nofail to it',
    properties: { disable: { type: 'string', minLength: 1 }, nofail: { type: 'string', minLength: 1 } },
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
  },
  label: (a) => (a.disable !== undefined ? `fstab disable ${a.disable}` : `fstab nofail ${a.nofail}`),
  plan: (a, ctx) => fromPlan(a.disable !== undefined ? planFstabDisable(ctx.root, a.disable) : planFstabNofail(ctx.root, a.nofail!), ctx),
};

const chroot: StepKind<{ run: string[]; creates?: string }> = {
  schema: {
    type: 'object',
    description: 'run a command inside the target (proc, sys, dev mounted, as `rdrescue chroot`); with creates: skipped when that path exists',
    properties: { run: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }, creates: TARGET_PATH },
    required: ['run'],
    additionalProperties: false,
  },
  label: (a) => `chroot ${a.run.join(' ')}`,
  plan(a, ctx) {
    if (a.creates !== undefined && existsSync(resolveInRoot(ctx.root, a.creates))) return satisfied([`chroot: ${a.creates} exists in the target; not running ${a.run.join(' ')}`]);
    // the view lives in another mount namespace, where proc/sys/dev cannot be mounted from here
    if (ctx.sandbox) return satisfied([`chroot: not run in the sandbox (on the real target it runs ${a.run.join(' ')}); its effects are not in the diff`]);
    const plan = planChroot({ root: ctx.root, command: a.run });
    const lines = [
      ...plan.mounts.filter((m) => m.fstab).map((m) => `would mount the target's ${m.what} (and unmount it after)`),
      `would run in the target (via ${plan.launcherKind}): ${a.run.join(' ')}${a.creates === undefined ? ' (every run: no creates: to tell when it is done)' : ''}`,
    ];
    return {
      satisfied: false,
      lines,
      changes: [{ path: a.run[0], change: 'run', description: [a.run.join(' ')] }],
      apply: async () => {
        const r = await runChroot(plan);
        const id = nextJournalId(ctx.root);
        const ran = `ran in the target: ${a.run.join(' ')} (exit status ${r.exitCode})`;
        appendJournal(ctx.root, { id, time: new Date().toISOString(), action: 'chroot', subject: a.run[0], summary: [ran], files: [] });
        if (r.exitCode !== 0) throw new RdError(`${a.run.join(' ')} exited with status ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}`);
        return { lines: [ran, ...r.notes.map((n) => `note: ${n}`)], journalId: id };
      },
    };
  },
};

const relabel: StepKind<'auto' | boolean> = {
  schema: { enum: ['auto', true, false], description: 'true: create /.autorelabel; false: remove it; auto: create it only when SELinux is on in the target' },
  label: (a) => `relabel ${a}`,
  plan(a, ctx) {
    if (a === 'auto') {
      const se = selinuxState(ctx.root);
      if (!se.relabelNeeded) return satisfied([`relabel auto: SELinux is ${se.mode === 'none' ? 'not configured' : 'disabled'} in the target; nothing to do`]);
    }
    // an earlier step of the same plan that asks for a relabel (passwd on an unlabelled shadow) has done this step's work by then
    const asked = a !== false && ctx.earlierChanges?.().find((c) => (c.path === AUTORELABEL || c.path === SUSE_AUTORELABEL) && c.change === 'create');
    if (asked) return satisfied([`relabel ${a}: an earlier step creates ${asked.path}; nothing more to do`]);
    return fromPlan(planRelabel(ctx.root, { undo: a === false }), ctx);
  },
};

const write: StepKind<{ path: string; content: string; mode?: string; owner?: string; backup?: boolean }> = {
  schema: {
    type: 'object',
    description: 'write a whole file in the target (atomically; the old content kept as PATH.rdrescue.bak)',
    properties: {
      path: TARGET_PATH,
      content: { type: 'string' },
      mode: { type: 'string', pattern: '^0?[0-7]{3,4}$', description: 'an octal mode in quotes, such as "0644"' },
      owner: { type: 'string', pattern: '^[^:\\s]+(:[^:\\s]+)?$', description: 'user, user:group or uid:gid in the target' },
      backup: { type: 'boolean', default: true },
    },
    required: ['path', 'content'],
    additionalProperties: false,
  },
  label: (a) => `write ${a.path}`,
  writesUnder: (a) => [a.path],
  check(a, root) {
    resolveWithinTarget(root, a.path);
  },
  plan: (a, ctx) => fromFilePlan(planWriteFile(ctx.root, a), ctx),
};

const sshKey: StepKind<{ user: string; key: string }> = {
  schema: {
    type: 'object',
    description: "append a public key to the user's ~/.ssh/authorized_keys (.ssh 0700, file 0600, owned by the user); nothing if it is there",
    properties: { user: USER, key: { type: 'string', minLength: 1, description: 'one public key line, as in id_ed25519.pub' } },
    required: ['user', 'key'],
    additionalProperties: false,
  },
  label: (a) => `ssh-key ${a.user}`,
  writesUnder: (a, root) => {
    const home = targetUser(root, a.user)?.home;
    return home?.startsWith('/') ? [home] : [];
  },
  check(a, root) {
    checkSshKey(a.key);
    requireUser(root, a.user);
    planSshKey(root, a); // a planted link in ~/.ssh is refused here, before any step runs
  },
  plan: (a, ctx) => fromFilePlan(planSshKey(ctx.root, a), ctx),
};

const check: StepKind<{ image?: string; kernel?: string }> = {
  schema: {
    type: 'object',
    description: 'rdrescue check of the target before anything else: the run stops, with nothing changed, when the image would not boot this kernel and this root',
    properties: { image: { ...TARGET_PATH, description: 'the image inside the target (default: the newest in /boot)' }, kernel: { type: 'string', minLength: 1, description: "the kernel's version" } },
    additionalProperties: false,
  },
  label: (a) => `check ${a.image ?? 'the newest /boot image'}`,
  plan: (a) => satisfied([`checked before any step runs: ${a.image ?? 'the newest image in /boot'}${a.kernel ? ` for kernel ${a.kernel}` : ''}; an error stops the run with nothing changed`]),
  async gate(a, root) {
    const r = await checkImage({ root, image: a.image === undefined ? undefined : resolveInRoot(root, a.image), kernel: a.kernel });
    const errors = r.findings.filter((f) => f.level === 'error');
    if (errors.length) throw new RdError(`check of ${r.image} failed: ${errors.map((f) => `${f.code}: ${f.message}`).join('; ')}`, {}, EXIT.failure);
  },
};

export const STEP_KINDS = { remount, passwd, unlock, fstab, chroot, relabel, write, 'ssh-key': sshKey, check } as const;
export type StepKindName = keyof typeof STEP_KINDS;

function kind(step: RunbookStep): StepKind<unknown> {
  return STEP_KINDS[step.kind] as StepKind<unknown>;
}

export function stepLabel(step: RunbookStep): string {
  return kind(step).label(step.arg);
}

export function stepWritesUnder(step: RunbookStep, root: string): string[] {
  return kind(step).writesUnder?.(step.arg, root) ?? [];
}

export function checkStep(step: RunbookStep, root: string): void {
  kind(step).check?.(step.arg, root);
}

export async function gateStep(step: RunbookStep, root: string): Promise<void> {
  await kind(step).gate?.(step.arg, root);
}

export function planStep(step: RunbookStep, ctx: StepContext): PlannedStep {
  return kind(step).plan(step.arg, ctx, step);
}
