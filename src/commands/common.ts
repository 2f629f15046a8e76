import { RdError, EXIT } from '../errors.js';

/** Prints data as JSON (pretty, one trailing newline). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Parses a non-negative integer option or fails with a usage error naming the option. */
export function intOption(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new RdError(`${name} needs a whole number, got ${JSON.stringify(value)}`, {}, EXIT.usage);
  return Number(value);
}

/** One warning line on stderr; reading or writing goes on. */
export function warnLine(message: string): void {
  process.stderr.write(`rdrescue: warning: ${message}\n`);
}
