// `--chown=user:group` and WORKDIR ownership: names resolved in the destination rootfs's /etc/passwd and
// /etc/group, as BuildKit does (a name-only user gets its uid as gid unless a group is given). The files are read
// by runtime/users.ts, inside the rootfs.
import { parseGroup, parsePasswd, readUserDb } from '../runtime/index.js';

export class UserLookupError extends Error {
  override name = 'UserLookupError';
}

/** Resolves `user[:group]` against the rootfs at `root` (a merged view). */
export async function resolveOwner(spec: string, root: string): Promise<{ uid: number; gid: number }> {
  const [user, group] = spec.split(':', 2) as [string, string | undefined];
  let read: ReturnType<typeof readUserDb> | undefined;
  const db = (): ReturnType<typeof readUserDb> => (read ??= readUserDb(root));
  let uid: number;
  let primaryGid: number | undefined;
  if (/^\d+$/.test(user)) uid = Number(user);
  else {
    const row = parsePasswd(db().passwd).find((r) => r.name === user);
    if (!row) throw new UserLookupError(`unable to find user ${user}: no matching entries in passwd file`);
    uid = row.uid;
    primaryGid = row.gid;
  }
  let gid: number;
  if (group === undefined || group === '') gid = primaryGid ?? uid;
  else if (/^\d+$/.test(group)) gid = Number(group);
  else {
    const row = parseGroup(db().group).find((r) => r.name === group);
    if (!row) throw new UserLookupError(`unable to find group ${group}: no matching entries in group file`);
    gid = row.gid;
  }
  return { uid, gid };
}
