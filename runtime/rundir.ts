// The run directory: where chroot-isolation containers get their mount trees (`c/<pid>-<id>/`), and the compiled
// helper (`bin/`). It is a private bind mount of itself, so nothing mounted under it propagates to other mount
// namespaces; a crashed tsbuild's leftovers are found by the owner pid in the directory name.
import { chmodSync, closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../oci/index.js';
import { RuntimeError } from './errors.js';
import { flock, LOCK, MNT_DETACH, mount, MS, umount2 } from './libc.js';

export const DEFAULT_RUN_DIR = '/run/tsbuild';

/**
 * The run dir of this process: `TSBUILD_RUN_DIR` when set (the CLI sets it for a rootless run, whose run dir is the
 * user's `$XDG_RUNTIME_DIR/tsbuild`, see runtime/mode.ts), else root's /run/tsbuild.
 */
export function defaultRunDir(): string {
  return process.env.TSBUILD_RUN_DIR || DEFAULT_RUN_DIR;
}

/** Mount points from /proc/self/mountinfo (octal escapes decoded). */
export function mountPoints(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  return mountinfo
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/** Container directories of this process whose container is still being set up, running or torn down. */
export const activeContainerDirs = new Set<string>();

/** Beside the run dir, not in it: the run dir is a mount that comes and goes. */
function lockPath(runDir: string): string {
  return `${runDir}.lock`;
}

/**
 * Held (shared) by every container from before it makes its directory until its mounts are gone: the run dir is
 * dropped only under an exclusive hold taken without waiting (cleanupStaleMounts), so never while any process on
 * the machine has a container in it. Returns the release.
 */
export function holdRunDir(runDir: string): () => void {
  const fd = openSync(lockPath(runDir), 'a', 0o600);
  try {
    flock(fd, LOCK.SH, lockPath(runDir));
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return () => closeSync(fd);
}

/** Makes `runDir` exist and be a private mount (checked on every run: another process may have dropped it). */
export async function ensurePrivateRunDir(runDir: string): Promise<void> {
  await mkdir(join(runDir, 'c'), { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to what it creates: an older, open run dir is closed here (container trees live in it)
  chmodSync(runDir, 0o700);
  // Check-then-mount under an exclusive lock of its own: two processes starting containers at once would otherwise
  // both bind it, one on top of the other, and trees set up under the lower mount could never be unmounted.
  const fd = openSync(`${runDir}.mount.lock`, 'a', 0o600);
  try {
    flock(fd, LOCK.EX, `${runDir}.mount.lock`);
    if (!mountPoints().includes(runDir)) mount(runDir, runDir, null, MS.BIND);
    mount(null, runDir, null, MS.PRIVATE);
  } finally {
    closeSync(fd);
  }
}

/** A process that exists and is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function unmountUnder(dir: string): void {
  const under = mountPoints()
    .filter((m) => m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of under) {
    try {
      umount2(m, MNT_DETACH);
    } catch {
      // already gone with its parent
    }
  }
}

/**
 * Cleans what crashed runs left in `runDir`: unmounts and removes the container directories of processes that no
 * longer exist, and, when no live process has containers there, drops the run dir's own private bind mount.
 */
export async function cleanupStaleMounts(runDir: string = defaultRunDir()): Promise<void> {
  try {
    await cleanup(runDir);
  } catch (e) {
    if (e instanceof TsbuildError) throw e;
    throw new RuntimeError('RUN_DIR', `cleaning the run dir ${runDir}: ${(e as Error).message}`, {
      cause: e,
      hint: `tsbuild keeps its containers' mounts under ${runDir}: it must be a writable local directory (run as root)`,
    });
  }
}

async function cleanup(runDir: string): Promise<void> {
  const cdir = join(runDir, 'c');
  const entries = await readdir(cdir).catch(() => [] as string[]);
  let live = 0;
  for (const name of entries) {
    const pid = Number(name.split('-')[0]);
    if (
      Number.isInteger(pid) &&
      pid > 0 &&
      alive(pid) &&
      (pid !== process.pid || activeContainerDirs.has(join(cdir, name)))
    ) {
      live++;
      continue;
    }
    unmountUnder(join(cdir, name));
    await rm(join(cdir, name), { recursive: true, force: true });
  }
  if (live > 0) return;
  // Dropped only while no container anywhere holds the run dir (holdRunDir): a container of another process that
  // starts now waits for the drop to finish, then mounts the run dir again.
  const fd = openSync(lockPath(runDir), 'a', 0o600);
  try {
    if (!flock(fd, LOCK.EX | LOCK.NB, lockPath(runDir))) return;
    if ((await readdir(cdir).catch(() => [] as string[])).length > 0) return;
    unmountUnder(runDir);
    if (mountPoints().includes(runDir)) {
      try {
        umount2(runDir, MNT_DETACH);
      } catch {
        // not ours to drop
      }
    }
  } finally {
    closeSync(fd);
  }
}
