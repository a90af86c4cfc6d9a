// USER resolution from the image's own /etc/passwd and /etc/group, as runc/moby's user package does it. The one
// place that reads those files (USER here, COPY --chown and WORKDIR owners in builder/users.ts): always inside the
// rootfs, by the kernel's resolution, so an image's `/etc/passwd -> /host/path` link stays in the image.
import { closeSync, fstatSync } from 'node:fs';
import { TsbuildError } from '../oci/index.js';
import { O } from './libc.js';
import { openIn, openRoot, readFdAt } from './root-fd.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (from /etc/group membership, plus the primary group). */
  groups: number[];
  home: string;
}

/** USER names something the image does not have. */
export class UserError extends TsbuildError {
  override name = 'UserError';
  constructor(
    readonly user: string,
    reason: string,
  ) {
    super('USER_UNKNOWN', `user "${user}": ${reason}`, {
      hint: "USER names a user or group of the image's /etc/passwd and /etc/group: add it there (RUN adduser …) or give numeric ids (USER 1000:1000)",
    });
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

/**
 * Whose rule for supplementary groups: `run` is docker run's (the primary group, then every group listing the
 * user); `build` is BuildKit's for a RUN step (only the groups listing the user by name, and none at all for the
 * default user, a `uid:gid` pair or an explicit group).
 */
export type GroupsRule = 'run' | 'build';

/** Resolves `name`, `uid`, `name:group`, `uid:gid` against passwd/group texts (either may be empty). */
export function resolveUserFrom(
  user: string | undefined,
  passwdText: string,
  groupText: string,
  rule: GroupsRule = 'run',
): ResolvedUser {
  const spec = user && user !== '' ? user : '0';
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  const pw = isNumeric(u) ? passwd.find((p) => p.uid === Number(u)) : passwd.find((p) => p.name === u);
  if (!pw && !isNumeric(u)) throw new UserError(spec, `no user "${u}" in /etc/passwd`);
  const uid = pw ? pw.uid : Number(u);
  let gid = pw ? pw.gid : 0;
  let supplementary: number[];
  if (g !== undefined && g !== '') {
    if (isNumeric(g)) gid = Number(g);
    else {
      const gr = groups.find((e) => e.name === g);
      if (!gr) throw new UserError(spec, `no group "${g}" in /etc/group`);
      gid = gr.gid;
    }
    // An explicit group replaces the supplementary list, as Docker does; BuildKit sets none.
    supplementary = rule === 'build' ? [] : [gid];
  } else {
    const member = groups.filter((e) => pw && e.members.includes(pw.name)).map((e) => e.gid);
    supplementary = rule === 'build' ? (user ? member : []) : [gid, ...member];
  }
  return { uid, gid, groups: [...new Set(supplementary)], home: pw?.home ?? '/' };
}

/** Larger user databases are refused (a link to a device or a huge file would otherwise be read whole). */
const MAX_DB_SIZE = 16 << 20;

/**
 * /etc/passwd and /etc/group of the rootfs at `root`, resolved inside it (symlinks followed with `root` as `/`).
 * A missing or unreadable file reads as empty, as runc does; one that is not a regular file, or too large, is
 * an error.
 */
export function readUserDb(root: string): { passwd: string; group: string } {
  const dir = openRoot(root);
  try {
    return { passwd: readDbFile(dir, '/etc/passwd'), group: readDbFile(dir, '/etc/group') };
  } finally {
    dir.close();
  }
}

function readDbFile(dir: ReturnType<typeof openRoot>, path: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted there must not hang the build
    fd = openIn(dir, path, O.RDONLY | O.NONBLOCK, 'inRoot');
  } catch {
    return '';
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(path, `${path} in the image is not a regular file`);
    if (st.size > MAX_DB_SIZE) throw new UserError(path, `${path} in the image is larger than ${MAX_DB_SIZE} bytes`);
    return readFdAt(fd, st.size).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Resolves USER against the files inside `root` (a mounted rootfs), never leaving it. */
export async function resolveUser(
  root: string,
  user: string | undefined,
  rule: GroupsRule = 'run',
): Promise<ResolvedUser> {
  const { passwd, group } = readUserDb(root);
  return resolveUserFrom(user, passwd, group, rule);
}
