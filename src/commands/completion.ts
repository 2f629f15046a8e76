import { Argument, type Command } from 'commander';
import { bashCompletion, fishCompletion, zshCompletion } from './completion-scripts.js';
import { examples } from './examples.js';

const SHELLS = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion };

export function register(program: Command): void {
  const cmd = program
    .command('completion')
    .description('print a shell completion script for rdrescue: commands, options, and image files (/boot/initr*, *.img, *.efi) where an image is expected')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(Object.keys(SHELLS)))
    .action((shell: keyof typeof SHELLS) => {
      process.stdout.write(SHELLS[shell](program));
    });
  examples(cmd, [
    ['rdrescue completion bash > /etc/bash_completion.d/rdrescue', 'bash, for every user (or: source <(rdrescue completion bash) in ~/.bashrc)'],
    ['rdrescue completion zsh > "${fpath[1]}/_rdrescue"', 'zsh'],
    ['rdrescue completion fish > ~/.config/fish/completions/rdrescue.fish', 'fish'],
  ]);
}
