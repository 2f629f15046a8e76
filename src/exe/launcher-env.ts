/**
 * The launchers tell the executable where it is (RDRESCUE_EXE: started by
 * an explicit loader, process.execPath names the loader) and, the thin one,
 * which root it came from (RDRESCUE_ROOT, which a user may also set). The CLI
 * takes both out of its environment before it runs anything, so programs
 * rdrescue starts do not inherit paths that mean something else where they
 * run: inside `rdrescue chroot`, /sysroot/usr/bin/rdrescue does not exist.
 */
export type LauncherSetting = 'RDRESCUE_EXE' | 'RDRESCUE_ROOT';

const taken = new Map<LauncherSetting, string>();

export function takeLauncherEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of ['RDRESCUE_EXE', 'RDRESCUE_ROOT'] as const) {
    const v = env[name];
    if (v) taken.set(name, v);
    delete env[name];
  }
}

/** The value the launcher (or the user) gave; read from the environment when the library is used without the CLI. */
export function launcherSetting(name: LauncherSetting): string | undefined {
  return taken.get(name) ?? (process.env[name] || undefined);
}
