/**
 * Output helpers shared by the library (rescue/cli-support) and the CLI
 * layer (commands/), kept below both so nothing imports up into the CLI.
 */

/** Prints data as JSON (pretty, one trailing newline). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
