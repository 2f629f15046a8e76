import type { Command } from 'commander';
import { describeTarget } from '../rescue/facts.js';
import { detectEnvironment } from '../rescue/env.js';
import { resolveTarget } from '../rescue/target.js';
import { RdError } from '../errors.js';
import { printJson } from './common.js';
import { rescueHostFacts } from '../host/record.js';
import { examples } from './examples.js';

export function register(program: Command): void {
  const cmd = program
    .command('env')
    .description('show where we are (dracut rd.break, initramfs-tools, mkinitcpio, init=/bin/bash, rescue host) and the target root: mount, OS, SELinux, init')
    .option('--root <dir>', 'the root of the system to rescue (overrides detection)')
    .option('--json', 'print as JSON')
    .action((o: { root?: string; json?: boolean }) => {
      const env = detectEnvironment();
      let target;
      let problem: string | undefined;
      try {
        target = describeTarget(resolveTarget({ root: o.root }).root);
      } catch (e) {
        if (!(e instanceof RdError)) throw e;
        problem = e.message;
      }
      const rescueHost = target ? rescueHostFacts(target.root) : undefined;
      if (o.json) return printJson({ environment: env, target: target ?? null, rescueHost: rescueHost ?? null, problem });
      const out = [`environment: ${rescueHost ? `rescue host: ${rescueHost.source} mounted by rdrescue mount on ${rescueHost.at}, ${rescueHost.readOnly ? 'read-only until a fixing command' : 'read-write'}` : env.description}`];
      for (const m of rescueHost?.mounts ?? []) out.push(`  ${m.mountPoint.padEnd(10)} ${m.device} (${m.fsType}${m.options.length ? `, ${m.options.join(',')}` : ''})`);
      if (env.cmdlineRoot) out.push(`kernel root=: ${env.cmdlineRoot}`);
      if (target) {
        out.push(`target root: ${target.root}`);
        if (target.mount) out.push(`  mounted from ${target.mount.device} (${target.mount.fsType}) on ${target.mount.mountPoint}, ${target.mount.readOnly ? 'read-only' : 'read-write'}`);
        out.push(`  os: ${target.os?.prettyName ?? target.os?.name ?? 'unknown (no os-release)'}`);
        out.push(`  selinux: ${target.selinux.mode}${target.selinux.type ? ` (${target.selinux.type})` : ''}${target.selinux.relabelNeeded ? ', files replaced from here need a relabel' : ''}`);
        out.push(`  init: ${target.init ?? 'unknown'}`);
      } else out.push(`target root: none: ${problem}`);
      if (env.hint && !(o.root && target) && !problem?.includes(env.hint)) out.push(`next: ${env.hint}`);
      process.stdout.write(out.join('\n') + '\n');
    });
  examples(cmd, [
    ['rdrescue env', 'where am I (rd.break, break=bottom, a rescue host), where is the target root, is it mounted rw'],
    ['rdrescue env --json', 'the same as JSON'],
  ]);
}
