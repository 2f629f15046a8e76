import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Ext4Options, Ext4Root } from '../helpers/ext4.js';
import { debianRoot, rhelRoot } from '../rescue/helpers.js';

export const RUNBOOKS = join(import.meta.dirname, '..', '..', 'fixtures', 'runbook');
/** The password whose hash fixtures/runbook/*.yaml set for root. */
export const RUNBOOK_ROOT_PASSWORD = 'rescued';
export const RUNBOOK_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNK57JhP9qFZx6YmvBrZyRo6pKQnewWKwzNU62LOs3P rescuer@example';

/** The RHEL-like rescue fixture, plus a home for alice (uid 1000) so ssh-key has somewhere to go. */
export function lockedOutRoot(t: { teardown(fn: () => void): void }, extra: Partial<Ext4Options> = {}): Ext4Root {
  return rhelRoot(t, {
    ...extra,
    prepare: (s) => {
      mkdirSync(join(s, 'home/alice'), { recursive: true });
      chownSync(join(s, 'home/alice'), 1000, 1000);
      extra.prepare?.(s);
    },
  });
}

export { debianRoot };
