import { openSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';

/**
 * Every failure the user should see is an RdError: one line naming the file,
 * the segment and byte offset where known, and the cause. The CLI prints
 * `rdrescue: <message>` and exits with `exitCode`; anything else is a bug and
 * still gets one line (never a stack trace unless RDRESCUE_DEBUG is set).
 */
export interface ErrorWhere {
  file?: string;
  segment?: number;
  offset?: number;
  entry?: string;
}

/** Exit codes: 1 runtime failure, 2 usage, 3 bad or corrupt input, 4 refused for safety, 5 lock busy. */
export const EXIT = { failure: 1, usage: 2, badInput: 3, refused: 4, busy: 5 } as const;

export class RdError extends Error {
  readonly where: ErrorWhere;
  readonly exitCode: number;
  constructor(cause: string, where: ErrorWhere = {}, exitCode: number = EXIT.failure) {
    super(formatWhere(where) + cause);
    this.name = 'RdError';
    this.where = where;
    this.exitCode = exitCode;
  }
}

/** Corrupt, truncated or otherwise unreadable input. */
export class FormatError extends RdError {
  constructor(cause: string, where: ErrorWhere = {}) {
    super(cause, where, EXIT.badInput);
    this.name = 'FormatError';
  }
}

function formatWhere(w: ErrorWhere): string {
  const parts: string[] = [];
  if (w.file !== undefined) parts.push(w.file);
  if (w.segment !== undefined) parts.push(`segment ${w.segment}`);
  if (w.offset !== undefined) parts.push(`offset ${w.offset}`);
  if (w.entry !== undefined) parts.push(`entry ${JSON.stringify(w.entry)}`);
  return parts.length ? parts.join(': ') + ': ' : '';
}

/**
 * Add location facts to an error raised deeper down without losing its class.
 * Facts the error already has win, except with `replace` (an offset relative
 * to a member becoming a file offset).
 */
export function locate(err: unknown, where: ErrorWhere, replace = false): never {
  throw located(err, where, replace);
}

/** locate() for an error that is reported rather than thrown (a warning that lets reading go on). */
export function located<T>(err: T, where: ErrorWhere, replace = false): T {
  if (err instanceof RdError) {
    const merged = replace ? { ...err.where, ...where } : { ...where, ...err.where };
    const cause = err.message.slice(formatWhere(err.where).length);
    return new (err.constructor as typeof RdError)(cause, merged, err.exitCode) as T;
  }
  return err;
}

/**
 * A system call's failure in words ("no space left on device"), without
 * Node's "ENOSPC: ..., open '<path>'" wrapping; undefined for anything else.
 */
export function systemCause(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string' || typeof e.errno !== 'number') return undefined;
  return getSystemErrorMap().get(e.errno)?.[1] ?? e.code;
}

/** A file that could not be opened for reading, as one line a user understands (exit 3). */
export function openFailure(err: unknown, file: string): RdError {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory, not an image' : e.message;
  return new RdError(why, { file }, EXIT.badInput);
}

/** Opens an image or kernel for reading; a failure is openFailure's one line. */
export function openForReading(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (e) {
    throw openFailure(e, file);
  }
}
