// Rootless runs: tsbuild inside a user namespace it made itself (cli/rootless.ts re-execs into one). There the
// host's network namespace belongs to the initial user namespace, so Node's main thread can step into a container's
// network namespace but never back (setns needs CAP_SYS_ADMIN over the namespace it returns to). UTS and IPC are
// fine: the re-exec made fresh ones owned by our user namespace. So in a user namespace the network is joined by
// the container's own chain (`nsenter --net=…`, which execs in place), and a namespace is made by a short-lived
// `unshare --net=FILE` (the namespace outlives it, bound on FILE until we hold an fd of it).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsbuildError } from '../oci/index.js';
import { RuntimeError } from './errors.js';
import { MNT_DETACH, umount2 } from './libc.js';

let cached: boolean | undefined;

/** Whether this process runs in a user namespace other than the initial one (its uid_map is not the identity). */
export function inUserNamespace(): boolean {
  if (cached !== undefined) return cached;
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    cached = !(map.length === 3 && map[0] === '0' && map[1] === '0' && map[2] === '4294967295');
  } catch {
    cached = false;
  }
  return cached;
}

/** overlay's `userxattr` flag for the new mount API, in a user namespace (runtime/mounts.ts says why). */
export function userxattrFlag(): [string, null][] {
  return inUserNamespace() ? [['userxattr', null]] : [];
}

function tool(name: string, pkg: string): string {
  for (const d of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(join(d, name))) return join(d, name);
  throw new RuntimeError('TOOL_MISSING', `${name} not found: a rootless RUN needs it`, {
    hint: `install ${pkg} (Debian: apt-get install ${pkg})`,
  });
}

function runTool(argv: string[], what: string): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0)
    throw new RuntimeError(
      'USERNS_NETWORK',
      `${what}: ${argv.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`,
      {
        hint: 'a rootless RUN makes its network namespace with util-linux unshare and iproute2 ip: check both run here, or build with --network host',
      },
    );
}

/**
 * A new network namespace with `lo` up, made without entering it; returns an O_CLOEXEC fd of it. `dir` is a
 * directory of ours (the run dir) to bind it on for the moment between its maker's exit and our open.
 */
export function makeNetworkNamespaceOutside(dir: string): number {
  const file = join(dir, `netns-${process.pid}-${Math.random().toString(16).slice(2)}`);
  writeFileSync(file, '', { mode: 0o600 });
  try {
    runTool(
      [tool('unshare', 'util-linux'), `--net=${file}`, '--', tool('ip', 'iproute2'), 'link', 'set', 'lo', 'up'],
      'make a network namespace',
    );
    try {
      return openSync(file, 'r');
    } finally {
      umount2(file, MNT_DETACH);
    }
  } finally {
    rmSync(file, { force: true });
  }
}

/** The chain prefix that joins the network namespace `fd` of this process, then execs the rest in place. */
export function joinNetworkPrefix(fd: number): string[] {
  return [tool('nsenter', 'util-linux'), `--net=/proc/${process.pid}/fd/${fd}`, '--'];
}

/** Mounts sysfs at `path` from inside the network namespace `fd` (sysfs shows the devices of its mounter's). */
export function mountSysfsIn(fd: number, path: string): void {
  runTool(
    [...joinNetworkPrefix(fd), tool('mount', 'mount'), '-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs', path],
    'mount sysfs',
  );
}

/** Closes a namespace fd made here (a `none` container's own). */
export function closeNamespace(fd: number): void {
  closeSync(fd);
}

/** The uid map of this process as `inside→outside` ranges (for messages). */
export function uidMapText(): string {
  try {
    return readFileSync('/proc/self/uid_map', 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [i, o, c] = l.trim().split(/\s+/).map(Number) as [number, number, number];
        return c === 1 ? `${i}→${o}` : `${i}-${i + c - 1}→${o}`;
      })
      .join(', ');
  } catch {
    return '?';
  }
}

/**
 * A chown to an id this rootless run does not map (EINVAL from the kernel): most often a user with no subordinate
 * ids, whose run maps their own uid alone.
 */
export class UnmappedIdError extends TsbuildError {
  override name = 'UnmappedIdError';
  constructor(
    readonly path: string,
    readonly uid: number | undefined,
    readonly gid: number | undefined,
    cause?: unknown,
  ) {
    const user = process.env.TSBUILD_HOST_USER || '$USER';
    super(
      'ID_UNMAPPED',
      `cannot give ${path} ${uid !== undefined ? `the owner ${uid}:${gid}` : 'its owner'}: this rootless run maps only the ids ${uidMapText()} (no subordinate ids for ${user}?)`,
      {
        cause,
        hint: `give ${user} subordinate ids, then build again: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`,
      },
    );
  }
}

/** `e` as an UnmappedIdError when it is a chown's EINVAL in a user namespace; else `e` itself. */
export function explainChown(e: unknown, path: string, uid?: number, gid?: number): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'EINVAL' && inUserNamespace() && !(e instanceof UnmappedIdError))
    return new UnmappedIdError(path, uid, gid, e);
  return e;
}

/**
 * Best effort, for a failed RUN: in a rootless run that maps one id alone, output that reads like a chown to an
 * unmapped id (`chown`, `Invalid argument`) gets the fix as a hint. Undefined otherwise.
 */
export function unmappedIdHint(lastLines: string[]): string | undefined {
  if (!inUserNamespace()) return undefined;
  let single = false;
  try {
    const lines = readFileSync('/proc/self/uid_map', 'utf8').trim().split('\n');
    single = lines.length === 1 && lines[0]!.trim().split(/\s+/)[2] === '1';
  } catch {
    return undefined;
  }
  if (!single || !lastLines.some((l) => /chown|Invalid argument/i.test(l))) return undefined;
  const user = process.env.TSBUILD_HOST_USER || '$USER';
  return `this rootless run maps only ${user}'s own id (${uidMapText()}), so a chown to any other id fails: give ${user} subordinate ids, then build again: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`;
}
