// Which mode tsbuild runs in, and why (issue 16). Three modes:
//   root          overlay snapshots, euid 0 with CAP_SYS_ADMIN in the initial user namespace: as before;
//   rootless      overlay inside a user namespace tsbuild enters first (runtime/reexec.ts), mapped from the user's
//                 /etc/subuid and /etc/subgid ranges through newuidmap/newgidmap (podman's map: 0 → the user,
//                 1..N → the first range), or only the user's own uid when there is no range;
//   unprivileged  copy snapshots, no mounts at all: where no user namespace can be made.
// The facts are probed (probeFacts, cached per uid in the run dir keyed by the kernel and the sysctls they depend
// on: the probe forks and mounts), the decision is a pure function of them (decideMode, unit-tested), and every
// decision carries the reason a user reads in `tsbuild info`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { TsbuildError, UsageError } from '../oci/index.js';

export type Mode = 'root' | 'rootless' | 'unprivileged';
export type ModeRequest = Mode | 'auto';
export type IsolationRequest = 'auto' | 'chroot' | 'pivot' | 'none';

/** One line of an id map: `count` ids from `inside` in the namespace are `outside` on the host. */
export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

/** What the environment offers; each with the evidence a reason line quotes. */
export interface ModeFacts {
  euid: number;
  egid: number;
  user: string;
  /** CAP_SYS_ADMIN in CapEff. */
  capSysAdmin: boolean;
  /** Whether this process is in the initial user namespace (its uid_map is the identity). */
  initialUserns: boolean;
  /** /proc/sys/user/max_user_namespaces (undefined: unreadable). */
  maxUserNamespaces: number | undefined;
  /** unshare(CLONE_NEWUSER) tried in a child: ok, or why not. */
  userns: { ok: boolean; reason?: string };
  /** an overlay mount with userxattr inside a new user namespace, tried once. */
  overlayInUserns: { ok: boolean; reason?: string };
  /**
   * A fresh procfs mounted in a new user + PID namespace, tried once (undefined: not probed). A container whose own
   * /proc has masked paths over it makes the kernel refuse it (EPERM, mount_too_revealing).
   */
  procInUserns?: { ok: boolean; reason?: string };
  newuidmap: boolean;
  newgidmap: boolean;
  /** The user's first ranges in /etc/subuid and /etc/subgid. */
  subuid: { start: number; count: number } | undefined;
  subgid: { start: number; count: number } | undefined;
}

export interface ModeDecision {
  mode: Mode;
  snapshots: 'overlay' | 'copy';
  isolation: 'chroot' | 'pivot' | 'none';
  /** The user namespace to enter (rootless only). */
  uidMap?: IdRange[];
  gidMap?: IdRange[];
  /** Only the user's own id is mapped: a chown to any other id fails (see SingleIdChownError). */
  singleId?: boolean;
  /**
   * RUN gets the container's own /proc bound in (its masks come along) instead of a fresh one: a rootless run in a
   * container whose /proc is masked (BuildKit's --oci-worker-no-process-sandbox). RUN sees the pod's processes.
   */
  procShared?: boolean;
  /** One line per decision: what was chosen and why. */
  reasons: string[];
  /** Warnings to print once (a fallback that limits what a build can do). */
  warnings: string[];
}

/** The mode asked for (`--mode`, TSBUILD_MODE) cannot work here: the message says what is missing. */
export class ModeError extends TsbuildError {
  override name = 'ModeError';
  constructor(message: string, hint: string) {
    super('MODE_UNAVAILABLE', message, { hint });
  }
}

export const SUBID_FIX = (user: string): string =>
  `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`;

/** Printed once per command when RUN shares the container's /proc. */
export const PROC_SHARED_WARNING =
  "no process sandbox: this container's /proc has masked paths, so the kernel refuses RUN a fresh /proc; RUN gets this container's /proc and sees its processes. To get the sandbox back, unmask /proc: Kubernetes securityContext.procMount: Unmasked (ProcMountType feature gate), podman/docker run --security-opt unmask=ALL (or systempaths=unconfined)";

/** `0→1001, 1-65535→100000`. */
export function formatIdMap(map: IdRange[]): string {
  return map
    .map((r) => (r.count === 1 ? `${r.inside}→${r.outside}` : `${r.inside}-${r.inside + r.count - 1}→${r.outside}`))
    .join(', ');
}

/** A container may use ids up to 65535 (podman's default size): the map covers that much when the range allows. */
const CONTAINER_IDS = 65536;

function rootlessMaps(f: ModeFacts): Pick<ModeDecision, 'uidMap' | 'gidMap' | 'singleId'> & { why: string } {
  if (f.euid === 0) {
    // root without CAP_SYS_ADMIN (a container's default): it may map its own ids 1:1 (CAP_SETUID in its namespace)
    const id = [{ inside: 0, outside: 0, count: CONTAINER_IDS }];
    return { uidMap: id, gidMap: id, why: 'root without CAP_SYS_ADMIN maps its own ids 0-65535 one to one' };
  }
  if (f.subuid && f.subgid && f.newuidmap && f.newgidmap) {
    const uc = Math.min(f.subuid.count, CONTAINER_IDS - 1);
    const gc = Math.min(f.subgid.count, CONTAINER_IDS - 1);
    return {
      uidMap: [
        { inside: 0, outside: f.euid, count: 1 },
        { inside: 1, outside: f.subuid.start, count: uc },
      ],
      gidMap: [
        { inside: 0, outside: f.egid, count: 1 },
        { inside: 1, outside: f.subgid.start, count: gc },
      ],
      why: `subordinate ids of ${f.user}: uids ${f.subuid.start}+${f.subuid.count}, gids ${f.subgid.start}+${f.subgid.count} (/etc/subuid, /etc/subgid; newuidmap/newgidmap)`,
    };
  }
  const missing = [
    !f.subuid ? `no range for ${f.user} in /etc/subuid` : '',
    !f.subgid ? `no range for ${f.user} in /etc/subgid` : '',
    !f.newuidmap ? 'newuidmap missing (Debian: apt-get install uidmap)' : '',
    !f.newgidmap ? 'newgidmap missing (Debian: apt-get install uidmap)' : '',
  ].filter(Boolean);
  return {
    uidMap: [{ inside: 0, outside: f.euid, count: 1 }],
    gidMap: [{ inside: 0, outside: f.egid, count: 1 }],
    singleId: true,
    why: `only ${f.user}'s own ids are mapped: ${missing.join('; ')}`,
  };
}

/** Why rootless is impossible here, or undefined when it is possible. */
function rootlessBlocker(f: ModeFacts): string | undefined {
  if (f.maxUserNamespaces === 0) return 'no user namespaces: user.max_user_namespaces is 0';
  if (!f.userns.ok) return `no user namespaces: ${f.userns.reason ?? 'unshare(CLONE_NEWUSER) failed'}`;
  if (!f.overlayInUserns.ok)
    return `no overlay in a user namespace: ${f.overlayInUserns.reason ?? 'the mount failed'} (kernel ≥ 5.11 needed)`;
  return undefined;
}

/**
 * The mode for these facts: `want` when it can work (else a ModeError naming what is missing), or under `auto` the
 * first of root, rootless, unprivileged that can. Isolation: `none` only with copy snapshots; `auto` is chroot for
 * the overlay modes and none for unprivileged.
 */
export function decideMode(
  f: ModeFacts,
  want: ModeRequest = 'auto',
  isolation: IsolationRequest = 'auto',
): ModeDecision {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const rootOk = f.euid === 0 && f.capSysAdmin && f.initialUserns;
  const rootWhy = rootOk
    ? 'euid 0 with CAP_SYS_ADMIN in the initial user namespace'
    : f.euid !== 0
      ? `not root (euid ${f.euid})`
      : !f.capSysAdmin
        ? 'root without CAP_SYS_ADMIN (a container?)'
        : 'root of a user namespace, not of the host';
  const blocker = rootlessBlocker(f);
  let mode: Mode;
  if (want === 'root') {
    if (!rootOk)
      throw new ModeError(
        `--mode root needs euid 0 with CAP_SYS_ADMIN in the initial user namespace: ${rootWhy}`,
        f.euid !== 0
          ? 'run as root (sudo), or use --mode rootless (or auto)'
          : 'give the container CAP_SYS_ADMIN (--privileged), or use --mode rootless (or auto)',
      );
    mode = 'root';
    reasons.push(`mode root: asked for (--mode root); ${rootWhy}`);
  } else if (want === 'rootless') {
    if (blocker)
      throw new ModeError(
        `--mode rootless needs a user namespace with overlay: ${blocker}`,
        f.maxUserNamespaces === 0
          ? 'sysctl -w user.max_user_namespaces=15000, or use --mode unprivileged'
          : 'allow unshare(CLONE_NEWUSER) (a seccomp profile or a sysctl denies it), or use --mode unprivileged',
      );
    mode = 'rootless';
    reasons.push('mode rootless: asked for (--mode rootless)');
  } else if (want === 'unprivileged') {
    mode = 'unprivileged';
    reasons.push('mode unprivileged: asked for (--mode unprivileged)');
  } else if (rootOk) {
    mode = 'root';
    reasons.push(`mode root: ${rootWhy}`);
  } else if (!blocker) {
    mode = 'rootless';
    reasons.push(`mode rootless: ${rootWhy}; user namespaces and overlay in them work`);
  } else {
    mode = 'unprivileged';
    reasons.push(`mode unprivileged: ${rootWhy}; ${blocker}`);
  }
  const snapshots = mode === 'unprivileged' ? 'copy' : 'overlay';
  reasons.push(
    snapshots === 'overlay'
      ? `snapshots overlay: ${mode === 'root' ? 'overlayfs' : 'overlayfs with userxattr in the user namespace'}`
      : 'snapshots copy: no mounts in this mode',
  );
  if (isolation === 'none' && snapshots === 'overlay')
    throw new UsageError(`--isolation none is only for copy snapshots (mode unprivileged), not mode ${mode}`, {
      hint: 'use --isolation chroot or pivot, or --mode unprivileged',
    });
  const iso = isolation === 'auto' ? (snapshots === 'copy' ? 'none' : 'chroot') : isolation;
  reasons.push(
    `isolation ${iso}: ${isolation === 'auto' ? (iso === 'none' ? 'the default without mounts' : 'the default') : 'asked for (--isolation)'}`,
  );
  const decision: ModeDecision = { mode, snapshots, isolation: iso, reasons, warnings };
  if (mode === 'rootless') {
    const { why, ...maps } = rootlessMaps(f);
    Object.assign(decision, maps);
    reasons.push(`id mapping ${formatIdMap(maps.uidMap!)}: ${why}`);
    if (maps.singleId)
      warnings.push(
        `rootless with only ${f.user}'s own uid mapped: files owned by other users cannot be made (a chown fails); fix: ${SUBID_FIX(f.user)}`,
      );
    if (f.procInUserns && !f.procInUserns.ok) {
      decision.procShared = true;
      reasons.push(
        `proc: masked by the container, RUN shares its /proc (no process sandbox): ${f.procInUserns.reason ?? 'a fresh /proc mount failed'}`,
      );
      warnings.push(PROC_SHARED_WARNING);
    } else reasons.push('proc: a fresh /proc in a PID namespace per RUN');
  }
  return decision;
}

// ---- probing -------------------------------------------------------------------------------------------------------

function readNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

function capEff(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const CAP_SYS_ADMIN = 21n;

/** The first range of `user` (name or uid) in a subid file. */
export function subidRange(text: string, user: string, id: number): { start: number; count: number } | undefined {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === user || who === String(id)) && start && count) {
      const s = Number(start);
      const c = Number(count);
      if (Number.isInteger(s) && Number.isInteger(c) && c > 0) return { start: s, count: c };
    }
  }
  return undefined;
}

function which(name: string): boolean {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => existsSync(join(d, name)));
}

function unshareBin(): string {
  return ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p)) ?? 'unshare';
}

/** Names what denied unshare(CLONE_NEWUSER), from the errno and the sysctls that can. */
function usernsDenial(stderr: string): string {
  if (readNumber('/proc/sys/user/max_user_namespaces') === 0) return 'user.max_user_namespaces is 0';
  if (readNumber('/proc/sys/kernel/unprivileged_userns_clone') === 0) return 'kernel.unprivileged_userns_clone is 0';
  if (readNumber('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === 1)
    return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)';
  if (/Operation not permitted/.test(stderr)) return 'seccomp denies unshare(CLONE_NEWUSER) (EPERM)';
  if (/No space left/.test(stderr)) return 'the user namespace limit is reached (ENOSPC)';
  if (/Function not implemented|Invalid argument/.test(stderr)) return 'the kernel has no user namespaces';
  return `unshare(CLONE_NEWUSER) failed: ${stderr.trim().split('\n').pop() ?? 'no message'}`;
}

function probeUserns(): { ok: boolean; reason?: string } {
  const r = spawnSync(unshareBin(), ['--user', '--map-root-user', 'true'], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true };
  return { ok: false, reason: usernsDenial(r.stderr ?? r.error?.message ?? '') };
}

function probeOverlay(tmp: string): { ok: boolean; reason?: string } {
  const dir = mkdtempSync(join(tmp, 'overlay-probe-'));
  try {
    for (const d of ['l', 'u', 'w', 'm']) mkdirSync(join(dir, d));
    const opts = `lowerdir=${join(dir, 'l')},upperdir=${join(dir, 'u')},workdir=${join(dir, 'w')},userxattr`;
    // unmounted before the namespace goes: an overlay left mounted makes the namespace's teardown, and so the
    // probe, take tens to hundreds of milliseconds longer (measured here: 67 ms against 10 ms)
    const r = spawnSync(
      unshareBin(),
      [
        '--user',
        '--map-root-user',
        '--mount',
        '/bin/sh',
        '-c',
        'mount -t overlay overlay -o "$1" "$2" && exec umount "$2"',
        'overlay-probe',
        opts,
        join(dir, 'm'),
      ],
      { encoding: 'utf8' },
    );
    if (r.status === 0) return { ok: true };
    return { ok: false, reason: (r.stderr || r.error?.message || 'mount failed').trim().split('\n').pop()! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh procfs in a new user + mount + PID namespace: refused where this process's /proc has masked paths. */
function probeProc(): { ok: boolean; reason?: string } {
  const r = spawnSync(
    unshareBin(),
    ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--propagation', 'private', '--mount-proc', 'true'],
    { encoding: 'utf8' },
  );
  if (r.status === 0) return { ok: true };
  return { ok: false, reason: (r.stderr || r.error?.message || 'mount failed').trim().split('\n').pop()! };
}

/** What the cached probe depends on: a change of any of these probes again. */
function probeKey(): string {
  const files = [
    '/proc/sys/kernel/osrelease',
    '/proc/sys/user/max_user_namespaces',
    '/proc/sys/kernel/unprivileged_userns_clone',
    '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
  ];
  const seccomp = /^Seccomp:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
  return [...files.map((f) => readNumber(f) ?? readFileSafe(f)), `seccomp=${seccomp}`].join('|');
}

/** Creates the store root (0700) when missing; false when it cannot be made (the probe then uses the run dir). */
function ensureDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return true;
  } catch {
    return false;
  }
}

/** The filesystem a directory is on: the overlay probe's answer holds for that filesystem only. */
function deviceOf(dir: string): string {
  try {
    return String(statSync(dir).dev);
  } catch {
    return '?';
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '-';
  }
}

/**
 * The facts of this process's environment. The two probes that fork (user namespace, overlay in it) are cached in
 * `cacheDir` (the user's run dir) keyed by probeKey; root with CAP_SYS_ADMIN needs them only for `--mode rootless`.
 */
export function probeFacts(
  cacheDir: string | undefined,
  want: ModeRequest = 'auto',
  /**
   * Where the overlay probe mounts: the store root, whose filesystem holds the upperdirs. A container's own root is
   * often overlayfs, which cannot be an upper layer, while its store volume can (probing /tmp there is wrong).
   */
  probeDir?: string,
): ModeFacts {
  const status = readFileSync('/proc/self/status', 'utf8');
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  let user = String(euid);
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry: the uid stands for the name
  }
  const uidMap = readFileSafe('/proc/self/uid_map').split(/\s+/);
  const initialUserns = uidMap.join(' ') === '0 0 4294967295';
  const capSysAdmin = (capEff(status) & (1n << CAP_SYS_ADMIN)) !== 0n;
  const facts: ModeFacts = {
    euid,
    egid,
    user,
    capSysAdmin,
    initialUserns,
    maxUserNamespaces: readNumber('/proc/sys/user/max_user_namespaces'),
    userns: { ok: false, reason: 'not probed (root)' },
    overlayInUserns: { ok: false, reason: 'not probed (root)' },
    newuidmap: which('newuidmap'),
    newgidmap: which('newgidmap'),
    subuid: subidRange(readFileSafe('/etc/subuid'), user, euid),
    subgid: subidRange(readFileSafe('/etc/subgid'), user, euid),
  };
  if (euid === 0 && capSysAdmin && initialUserns && want !== 'rootless') return facts;
  const overlayDir = probeDir !== undefined && ensureDir(probeDir) ? probeDir : (cacheDir ?? '/tmp');
  const key = `${probeKey()}|dev=${deviceOf(overlayDir)}`;
  const file = cacheDir ? join(cacheDir, 'mode-probe.json') : undefined;
  if (file) {
    try {
      const c = JSON.parse(readFileSync(file, 'utf8')) as {
        key: string;
        userns: ModeFacts['userns'];
        overlay: ModeFacts['overlayInUserns'];
        proc?: ModeFacts['procInUserns'];
      };
      if (c.key === key && (c.proc !== undefined || !c.overlay.ok))
        return { ...facts, userns: c.userns, overlayInUserns: c.overlay, procInUserns: c.proc };
    } catch {
      // none yet, or unreadable: probe
    }
  }
  facts.userns = probeUserns();
  facts.overlayInUserns = facts.userns.ok
    ? probeOverlay(overlayDir)
    : { ok: false, reason: 'no user namespace to try it in' };
  if (facts.overlayInUserns.ok) facts.procInUserns = probeProc();
  if (file) {
    try {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(
        tmp,
        JSON.stringify({ key, userns: facts.userns, overlay: facts.overlayInUserns, proc: facts.procInUserns }),
        {
          mode: 0o600,
        },
      );
      renameSync(tmp, file);
    } catch {
      // a read-only run dir probes every time
    }
  }
  return facts;
}
