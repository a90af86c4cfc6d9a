// USER resolution from the image's own /etc/passwd and /etc/group, as runc/moby's user package does it.
import { readFileSync } from 'node:fs';
import { resolveInRoot } from './paths.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (from /etc/group membership, plus the primary group). */
  groups: number[];
  home: string;
}

/** USER names something the image does not have. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(readonly user: string, reason: string) {
    super(`user "${user}": ${reason}`);
  }
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

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

/** Resolves `name`, `uid`, `name:group`, `uid:gid` against passwd/group texts (either may be empty). */
export function resolveUserFrom(user: string | undefined, passwdText: string, groupText: string): ResolvedUser {
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
    // An explicit group replaces the supplementary list, as Docker does.
    supplementary = [gid];
  } else {
    supplementary = [gid, ...groups.filter((e) => pw && e.members.includes(pw.name)).map((e) => e.gid)];
  }
  return { uid, gid, groups: [...new Set(supplementary)], home: pw?.home ?? '/' };
}

/** Resolves USER against the files inside `root` (a mounted rootfs), never leaving it. */
export async function resolveUser(root: string, user: string | undefined): Promise<ResolvedUser> {
  const read = async (p: string): Promise<string> => {
    try {
      return readFileSync((await resolveInRoot(root, p)).host, 'utf8');
    } catch {
      return '';
    }
  };
  return resolveUserFrom(user, await read('/etc/passwd'), await read('/etc/group'));
}
