/** The rescue library API (issue 4): each action is plan(...) -> Plan, then applyPlan(plan). */
export { detectEnvironment, parseCmdline, rootDevicePath, type Environment, type EnvironmentKind, type DetectOptions } from './env.js';
export { resolveTarget, resolveInRoot, targetPath, type Target, type TargetOptions } from './target.js';
export { describeTarget, selinuxState, initSystem, type TargetFacts, type SelinuxState } from './facts.js';
export { parseMountinfo, readMountinfo, mountOf, planRemount, applyRemount, ext4CleanState, type MountInfo, type RemountResult } from './mounts.js';
export { sha512crypt, hashPassword, randomSalt, verifySha512crypt, SHA512_DEFAULT_ROUNDS } from './sha512crypt.js';
export { parseShadow, serializeShadow, parseEntry, formatEntry, findUser, daysSinceEpoch, type ShadowEntry, type ShadowFile } from './shadow.js';
export { lockShadow, procLockHolders, type ShadowLock, type LockOptions } from './lock.js';
export { atomicReplace, durableRemove, type ReplaceOptions } from './atomic-write.js';
export { applyPlan, describePlan, type Plan, type FileChange, type ApplyOptions, type ApplyResult } from './plan.js';
export { planPassword, resetPassword, checkPassword, checkCryptString, type PasswordOptions } from './passwd.js';
export { planUnlock, unlockUser, faillockDirs, type UnlockOptions } from './unlock.js';
export { planRelabel, relabelAfterReplace, AUTORELABEL, type RelabelOptions } from './relabel.js';
export { fstabCheck, planFstabDisable, planFstabNofail, fstabDisable, fstabNofail, type FstabEntry, type FstabCheckOptions } from './fstab.js';
export { readJournal, lastUndoable, JOURNAL_PATH, type JournalEntry, type JournalFile } from './journal.js';
export { planUndo, undoChange, type UndoOptions } from './undo.js';
export { planChroot, runChroot, withChroot, targetShell, type LauncherKind, type ChrootOptions, type ChrootPlan, type ChrootResult, type ChrootMount } from './chroot.js';
export { readPasswordStdin, readPasswordTty } from './password-input.js';
export { planSummary } from './cli-support.js';
