import { RdError, EXIT } from '../errors.js';

export { printJson } from '../output.js';

/** Parses a non-negative integer option or fails with a usage error naming the option. */
export function intOption(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new RdError(`${name} needs a whole number, got ${JSON.stringify(value)}`, {}, EXIT.usage);
  return Number(value);
}

/** One warning line on stderr; reading or writing goes on. */
export function warnLine(message: string): void {
  process.stderr.write(`rdrescue: warning: ${message}\n`);
}
