// `--chown=user:group` and WORKDIR ownership: names resolved in the destination rootfs's /etc/passwd and
// /etc/group, as BuildKit does (a name-only user gets its uid as gid unless a group is given).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export class UserLookupError extends Error {
  override name = 'UserLookupError';
}

async function readDb(root: string, file: string): Promise<string[][]> {
  try {
    return (await readFile(join(root, file), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/** Resolves `user[:group]` against the rootfs at `root` (a merged view). */
export async function resolveOwner(spec: string, root: string): Promise<{ uid: number; gid: number }> {
  const [user, group] = spec.split(':', 2) as [string, string | undefined];
  let uid: number;
  let primaryGid: number | undefined;
  if (/^\d+$/.test(user)) uid = Number(user);
  else {
    const row = (await readDb(root, 'etc/passwd')).find((r) => r[0] === user);
    if (!row) throw new UserLookupError(`unable to find user ${user}: no matching entries in passwd file`);
    uid = Number(row[2]);
    primaryGid = Number(row[3]);
  }
  let gid: number;
  if (group === undefined || group === '') gid = primaryGid ?? uid;
  else if (/^\d+$/.test(group)) gid = Number(group);
  else {
    const row = (await readDb(root, 'etc/group')).find((r) => r[0] === group);
    if (!row) throw new UserLookupError(`unable to find group ${group}: no matching entries in group file`);
    gid = Number(row[2]);
  }
  return { uid, gid };
}
