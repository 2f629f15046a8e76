import { lstatSync } from 'node:fs';
import { readXattrs, type Xattrs } from './xattrs.js';

/**
 * What a file is besides its bytes, kept when rdrescue replaces it and put
 * back by undo: permission bits (setuid, setgid and sticky included), owner,
 * group, and every extended attribute (SELinux label, IMA/EVM, trusted.*,
 * user.*, the POSIX ACL with its mask).
 */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
  /** Absent: not known (an entry older than this field, or no xattr helper for this architecture). */
  xattrs?: Xattrs;
}

export function fileMeta(hostPath: string): FileMeta {
  const st = lstatSync(hostPath);
  const xattrs = readXattrs(hostPath);
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, ...(xattrs && { xattrs }) };
}
