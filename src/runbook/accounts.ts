import { RdError, EXIT } from '../errors.js';
import { readTargetText } from '../rescue/target.js';

/** The target's own accounts (its /etc/passwd and /etc/group), never the rescue system's. */
export interface TargetUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function records(root: string, file: string): string[][] {
  return (readTargetText(root, file) ?? '')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

export function targetUser(root: string, name: string): TargetUser | undefined {
  const f = records(root, '/etc/passwd').find((r) => r[0] === name && r.length >= 7);
  return f && { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

/** "user", "user:group", "uid:gid" (numbers need not exist) as numeric ids in the target. */
export function resolveOwner(root: string, owner: string): { uid: number; gid: number } {
  const [u, g] = owner.split(':');
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) uid = Number(u);
  else {
    const user = targetUser(root, u);
    if (!user) throw new RdError(`owner ${JSON.stringify(owner)}: no user ${JSON.stringify(u)} in the target's /etc/passwd`, {}, EXIT.badInput);
    uid = user.uid;
    gid = user.gid;
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const grp = records(root, '/etc/group').find((r) => r[0] === g);
      if (!grp) throw new RdError(`owner ${JSON.stringify(owner)}: no group ${JSON.stringify(g)} in the target's /etc/group`, {}, EXIT.badInput);
      gid = Number(grp[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}
