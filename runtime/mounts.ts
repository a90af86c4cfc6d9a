// The container's mount tree: overlay root, /dev, /proc, /sys, the generated /etc files and the spec's mounts.
// The same code runs in the parent (chroot isolation: a private tree under the run dir) and in init.ts (pivot
// isolation: inside the container's own mount namespace). Every mount point is an O_PATH fd opened inside the
// rootfs and every bind source one opened inside its own root; mounts go onto and from those fds. Mount points
// the rootfs lacks are created in it and reported as traces (path + inode), so the caller can take exactly those
// out of the upperdir afterwards.
// Synchronous fs calls on purpose: tiny operations, cheaper than a thread-pool round trip each.
import { chmodSync, copyFileSync, fstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { TsbuildError } from '../oci/index.js';
import { RuntimeError } from './errors.js';
import { AT, bindMountFd, LibcError, MOUNT_ATTR, mount, mountFs, MS, O, openat, unlinkat } from './libc.js';
import { openMountPoint } from './paths.js';
import { closeFd, fdPath, openIn, openPathIn, openRoot, statFd, type RootDir } from './root-fd.js';
import { overlayLowerOrder } from './overlay-order.js';
import { inUserNamespace, userxattrFlag } from './userns.js';

/**
 * /proc paths made read-only and masked, as runc does: the one policy for both isolations (pivot applies it with
 * protectProc; chroot's helper gets these lists as arguments from run.ts).
 */
export const PROC_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
export const PROC_MASKED_FILES = [
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
];
export const PROC_MASKED_DIRS = ['/proc/acpi', '/proc/scsi'];

/** Applies PROC_READONLY/PROC_MASKED_* to the proc mounted at host path `proc`; masks with `devNull`. */
export function protectProc(proc: string, devNull: string): void {
  const at = (p: string): string => join(proc, p.slice('/proc'.length));
  const ignoreMissing = (f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof LibcError && e.code === 'ENOENT')) throw e;
    }
  };
  for (const p of PROC_READONLY) {
    ignoreMissing(() => {
      mount(at(p), at(p), null, MS.BIND | MS.REC);
      mount(null, at(p), null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
    });
  }
  for (const p of PROC_MASKED_FILES) ignoreMissing(() => mount(devNull, at(p), null, MS.BIND));
  for (const p of PROC_MASKED_DIRS) ignoreMissing(() => mount('tmpfs', at(p), 'tmpfs', MS.RDONLY));
}

/** Overlay options longer than a page cannot be passed to mount(2). */
const PAGE = 4096;

/**
 * A mount as the runtime executes it; `file` mounts from the spec have already been written under the files dir.
 * A bind's `source` is resolved inside `root` when it is mounted (openat2 RESOLVE_IN_ROOT), in the process that
 * mounts it; `scratch` (a directory of the container's own) makes it a throwaway overlay instead of a writable bind.
 */
export type PlannedMount =
  | { type: 'bind'; root: string; source: string; target: string; readonly: boolean; scratch?: string }
  | { type: 'tmpfs'; target: string; size?: number };

/** What the mount points made so far are, and whether a path was in the upperdir before (see noteCopyUps). */
interface Tracker {
  created: string[];
  isInUpper: (inner: string) => boolean;
}

/** A mount point the runtime made in the upperdir: removed after the run only if the same inode is still there. */
export interface Trace {
  /** Path inside the upperdir (and the rootfs). */
  path: string;
  dev: string;
  ino: string;
  isDir: boolean;
}

export interface MountTreeOptions {
  /** Host directory the overlay is mounted on (the container's `/`). */
  root: string;
  /** The overlay's upperdir: mount points made there are reported as traces. */
  upperdir: string;
  /** Generated files bound over /etc (host paths). */
  etcFiles: { hosts: string; hostname?: string; resolvConf: string };
  mounts: PlannedMount[];
  /** Mount /proc and /sys here too (pivot isolation); in chroot isolation unshare mounts /proc and the parent /sys. */
  procAndSys: boolean;
  /** With procAndSys: bind the current /proc recursively instead of a fresh procfs (ContainerSpec.procShared). */
  procShared?: boolean;
}

function escapeOverlayPath(p: string): string {
  return p.replace(/([\\:,])/g, '\\$1');
}

/**
 * In a user namespace (rootless) overlay keeps its whiteout and opaque marks in `user.overlay.*` xattrs: the
 * `trusted.*` ones need CAP_SYS_ADMIN in the initial user namespace (store/layer-tar/whiteouts.ts writes the same).
 */
const USERXATTR = inUserNamespace() ? ',userxattr' : '';

/**
 * Mounts an overlay. When the absolute lowerdir list does not fit in a page, the lowerdirs are given one by one
 * (`lowerdir+` through the new mount API, Linux 6.8+); on older kernels, relative to their common parent directory
 * while the process's cwd is that directory (Docker's overlay2 trick).
 */
export function mountOverlay(lowerdirs: string[], upperdir: string, workdir: string, target: string): void {
  withVolatile((vol) => mountOverlayWith(lowerdirs, upperdir, workdir, target, vol));
}

/**
 * Overlay's `volatile` (Linux 5.10+) for a step's upperdir: without it, unmounting an overlay syncs the whole file
 * system of its upperdir, every dirty page on it, so a RUN after a COPY of 300 MB waited ≈ 0.5 s in umount2 for
 * the COPY's pages to reach the disk (docs/performance.md). Nothing needs that sync: the upperdir becomes a layer
 * whose blob is fsynced when it is written, and a scratch upper is thrown away. The sync calls of the step's own
 * processes on the overlay are skipped too. A kernel without it refuses the option (EINVAL): the mount is made
 * again without it, and so are the later ones of this process.
 */
let volatileKnownBad = false;
function withVolatile(mountIt: (vol: boolean) => void): void {
  if (!volatileKnownBad) {
    try {
      mountIt(true);
      return;
    } catch (e) {
      if (!(e instanceof LibcError && e.code === 'EINVAL')) throw e;
      volatileKnownBad = true;
    }
  }
  mountIt(false);
}

function mountOverlayWith(lowerdirs: string[], upperdir: string, workdir: string, target: string, vol: boolean): void {
  const opts = (lowers: string[]): string =>
    `lowerdir=${lowers.map(escapeOverlayPath).join(':')},upperdir=${escapeOverlayPath(upperdir)},workdir=${escapeOverlayPath(workdir)}${USERXATTR}${vol ? ',volatile' : ''}`;
  // overlay's lowerdir order is topmost first, without repeats; the spec lists the lowest first.
  const top = overlayLowerOrder(lowerdirs);
  const abs = opts(top);
  if (abs.length < PAGE) {
    mount('overlay', target, 'overlay', MS.NODEV, abs);
    return;
  }
  try {
    mountFs(
      'overlay',
      target,
      [
        ...top.map((d): [string, string] => ['lowerdir+', d]),
        ['upperdir', upperdir],
        ['workdir', workdir],
        ...userxattrFlag(),
        ...(vol ? [['volatile', null] as [string, null]] : []),
      ],
      MOUNT_ATTR.NODEV,
    );
    return;
  } catch (e) {
    if (!(e instanceof LibcError) || !['EINVAL', 'ENOSYS'].includes(e.code)) throw e;
  }
  const parent = commonParent(top);
  const rel = opts(top.map((d) => relative(parent, d)));
  if (rel.length >= PAGE)
    throw new RuntimeError(
      'OVERLAY_TOO_MANY_LAYERS',
      `overlay: ${top.length} lowerdirs do not fit in one page even relative to ${parent}`,
      { hint: 'Linux 6.8 or later takes any number of layers; on this kernel use a base image with fewer layers' },
    );
  const cwd = process.cwd();
  process.chdir(parent);
  try {
    mount('overlay', target, 'overlay', MS.NODEV, rel);
  } finally {
    process.chdir(cwd);
  }
}

function commonParent(paths: string[]): string {
  let parent = dirname(paths[0]!);
  while (!paths.every((p) => p.startsWith(parent === '/' ? '/' : parent + '/'))) parent = dirname(parent);
  return parent;
}

const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** /dev as a tmpfs with the host's character devices bound onto files, a private devpts, shm and fd links. */
function mountDev(root: RootDir, t: Tracker): string {
  const mp = openMountPoint(root, '/dev', 'dir', t.created, t.isInUpper);
  try {
    // nodev: only the nodes bound below (their own mounts) open; a node made with mknod does not.
    mount('tmpfs', fdPath(mp.fd), 'tmpfs', MS.NOSUID | MS.NODEV | MS.STRICTATIME, 'mode=755,size=65536k');
  } finally {
    closeFd(mp.fd);
  }
  // From here on `dev` is the fresh tmpfs just mounted: nothing of the image is below it.
  const dev = mp.path;
  for (const n of DEV_NODES) {
    writeFileSync(join(dev, n), '', { mode: 0o666 });
    mount(`/dev/${n}`, join(dev, n), null, MS.BIND);
  }
  for (const d of ['pts', 'shm']) mkdirSync(join(dev, d));
  mount('devpts', join(dev, 'pts'), 'devpts', MS.NOSUID | MS.NOEXEC, 'newinstance,ptmxmode=0666,mode=0620');
  symlinkSync('pts/ptmx', join(dev, 'ptmx'));
  mount('shm', join(dev, 'shm'), 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=1777,size=65536k');
  symlinkSync('/proc/self/fd', join(dev, 'fd'));
  symlinkSync('/proc/self/fd/0', join(dev, 'stdin'));
  symlinkSync('/proc/self/fd/1', join(dev, 'stdout'));
  symlinkSync('/proc/self/fd/2', join(dev, 'stderr'));
  return dev;
}

/** Mounts read-only sysfs on a mount point (do it while in the container's network namespace). */
export function mountSysAt(path: string): void {
  mount('sysfs', path, 'sysfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
}

/**
 * Pivot isolation's /sys: a fresh sysfs, or where a user namespace inside a container is refused one (its /sys has
 * masked parts, as its /proc), that /sys bound recursively, as chroot isolation does (runtime/run.ts).
 */
function mountSysOrBind(path: string): void {
  try {
    mountSysAt(path);
  } catch (e) {
    if (!(e instanceof LibcError && e.code === 'EPERM' && inUserNamespace())) throw e;
    mount('/sys', path, null, MS.BIND | MS.REC);
  }
}

/** Opens a mount point, mounts onto its fd, closes it; returns its host path. */
function mountAt(root: RootDir, target: string, kind: 'dir' | 'file', t: Tracker, how: (fd: number) => void): string {
  const mp = openMountPoint(root, target, kind, t.created, t.isInUpper);
  try {
    how(mp.fd);
    return mp.path;
  } finally {
    closeFd(mp.fd);
  }
}

/** A host file of ours (the generated /etc files) bound read-only. */
function bindHostFile(root: RootDir, source: string, target: string, t: Tracker): void {
  const src = openat(AT.FDCWD, source, O.PATH | O.NOFOLLOW);
  try {
    mountAt(root, target, 'file', t, (fd) =>
      bindMountFd(src, fd, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV),
    );
  } finally {
    closeFd(src);
  }
}

/**
 * A spec bind: `source` resolved inside its root by the kernel (a stage's `/x -> /` stays in the stage), the mount
 * point inside the rootfs, and the bind made between the two fds. nosuid+nodev always (a host directory's device
 * nodes must not open). With `scratch`, writes go to an overlay whose upper layer is thrown away with the container.
 */
function mountBind(root: RootDir, m: Extract<PlannedMount, { type: 'bind' }>, t: Tracker): void {
  const src = openBindSource(m.root, m.source);
  try {
    const isDir = statFd(src).isDirectory();
    mountAt(root, m.target, isDir ? 'dir' : 'file', t, (fd) => {
      if (m.scratch === undefined) {
        bindMountFd(src, fd, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | (m.readonly ? MOUNT_ATTR.RDONLY : 0));
      } else if (isDir) {
        const upper = join(m.scratch, 'upper');
        const work = join(m.scratch, 'work');
        mkdirSync(upper, { recursive: true, mode: 0o755 });
        mkdirSync(work, { recursive: true, mode: 0o700 });
        withVolatile((vol) =>
          mount(
            'overlay',
            fdPath(fd),
            'overlay',
            MS.NOSUID | MS.NODEV,
            `lowerdir=${fdPath(src)},upperdir=${escapeOverlayPath(upper)},workdir=${escapeOverlayPath(work)}${USERXATTR}${vol ? ',volatile' : ''}`,
          ),
        );
      } else {
        // A single file: a private copy (read through the resolved fd) takes the writes.
        mkdirSync(m.scratch, { recursive: true, mode: 0o700 });
        const copy = join(m.scratch, 'file');
        copyFileSync(fdPath(src), copy);
        const copyFd = openat(AT.FDCWD, copy, O.PATH | O.NOFOLLOW);
        try {
          bindMountFd(copyFd, fd, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV);
        } finally {
          closeFd(copyFd);
        }
      }
    });
  } finally {
    closeFd(src);
  }
}

/** A bind mount's source that is not there: named, with its root, for the step's error. */
export class BindSourceError extends TsbuildError {
  override name = 'BindSourceError';
  constructor(
    readonly root: string,
    readonly source: string,
    reason: string,
  ) {
    super('BIND_SOURCE', `bind mount source "${source}" ${reason} (resolved inside ${root})`, {
      hint: 'a RUN --mount source= is a path inside the stage, image or context the mount names (from=): check it there',
    });
  }
}

/**
 * An O_PATH fd of a bind source, resolved inside `root` as a container rooted there would see it: nothing resolves
 * outside (symlinks and `..` stay in the root). The builder calls it too, to fail early with the Buildfile's line.
 */
export function openBindSource(root: string, source: string): number {
  const r = openRoot(root);
  try {
    return openPathIn(r, source);
  } catch (e) {
    if (e instanceof LibcError && (e.code === 'ENOENT' || e.code === 'ENOTDIR'))
      throw new BindSourceError(root, source, 'does not exist');
    if (e instanceof LibcError && e.code === 'ELOOP')
      throw new BindSourceError(root, source, 'is a symbolic link loop');
    throw e;
  } finally {
    r.close();
  }
}

/**
 * Mounts everything but the overlay itself; returns the host paths of the /proc and /sys mount points and the
 * traces: every mount point made in the upperdir, with its inode, for removeTraces.
 */
export async function mountTree(o: MountTreeOptions): Promise<{ proc: string; sys: string; traces: Trace[] }> {
  const upper = openRoot(o.upperdir);
  const root = openRoot(o.root);
  const t: Tracker = { created: [], isInUpper: (inner) => isIn(upper, inner) };
  try {
    const dev = mountDev(root, t);
    const proc = mountAt(root, '/proc', 'dir', t, (fd) => {
      if (o.procAndSys && o.procShared) mount('/proc', fdPath(fd), null, MS.BIND | MS.REC);
      else if (o.procAndSys) mount('proc', fdPath(fd), 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC);
    });
    if (o.procAndSys) protectProc(proc, join(dev, 'null'));
    const sys = mountAt(root, '/sys', 'dir', t, (fd) => {
      if (o.procAndSys) mountSysOrBind(fdPath(fd));
    });
    bindHostFile(root, o.etcFiles.hosts, '/etc/hosts', t);
    if (o.etcFiles.hostname) bindHostFile(root, o.etcFiles.hostname, '/etc/hostname', t);
    bindHostFile(root, o.etcFiles.resolvConf, '/etc/resolv.conf', t);
    // Shallow targets first, so a mount inside another one gets its mount point in the outer mount, not the layer.
    const ordered = [...o.mounts].sort((a, b) => depth(a.target) - depth(b.target));
    for (const m of ordered) {
      if (m.type === 'tmpfs') {
        mountAt(root, m.target, 'dir', t, (fd) =>
          mount('tmpfs', fdPath(fd), 'tmpfs', MS.NOSUID | MS.NODEV, `mode=1777${m.size ? `,size=${m.size}` : ''}`),
        );
      } else mountBind(root, m, t);
    }
    return { proc, sys, traces: recordTraces(upper, t.created) };
  } finally {
    root.close();
    upper.close();
  }
}

function isIn(upper: RootDir, inner: string): boolean {
  try {
    closeFd(openPathIn(upper, inner, 'beneath'));
    return true;
  } catch {
    return false;
  }
}

/**
 * The inode of each path made, looked up in the upperdir itself (not through the overlay, whose inode numbers are
 * its own); a path not in the upperdir (made inside another mount) is no trace.
 */
function recordTraces(upper: RootDir, created: string[]): Trace[] {
  const out: Trace[] = [];
  for (const path of new Set(created)) {
    let fd: number;
    try {
      fd = openPathIn(upper, path, 'beneath');
    } catch {
      continue;
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      out.push({ path, dev: String(st.dev), ino: String(st.ino), isDir: st.isDirectory() });
    } finally {
      closeFd(fd);
    }
  }
  return out;
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

/**
 * Takes the mount points the runtime made back out of the upperdir (after everything is unmounted), deepest first:
 * each is reached from an upperdir fd without following any symlink (a RUN may have renamed a parent and put a
 * symlink in its place: BuildKit's CVE-2024-23652) and removed only while it is still the inode that was made.
 * A directory the container wrote into stays.
 */
export async function removeTraces(upperdir: string, traces: Trace[]): Promise<void> {
  if (traces.length === 0) return;
  const upper = openRoot(upperdir);
  try {
    for (const t of [...traces].sort((a, b) => depth(b.path) - depth(a.path))) removeTrace(upper, t);
  } finally {
    upper.close();
  }
}

function removeTrace(upper: RootDir, t: Trace): void {
  const name = posix.basename(t.path);
  if (name === '' || name === '.' || name === '..') return;
  let dir: number;
  try {
    dir = openIn(upper, posix.dirname(t.path), O.PATH | O.DIRECTORY, 'beneath');
  } catch {
    return; // gone, or a symlink on the way: not ours to follow
  }
  try {
    let fd: number;
    try {
      fd = openat(dir, name, O.PATH | O.NOFOLLOW);
    } catch {
      return;
    }
    let same: boolean;
    try {
      const st = fstatSync(fd, { bigint: true });
      same = String(st.dev) === t.dev && String(st.ino) === t.ino && st.isDirectory() === t.isDir;
    } finally {
      closeFd(fd);
    }
    if (!same) return;
    try {
      unlinkat(dir, name, t.isDir ? AT.REMOVEDIR : 0);
    } catch {
      // a directory the container wrote into stays
    }
  } finally {
    closeFd(dir);
  }
}

/** Writes a file mount's content where it will be bound from (mode applies; default 0400 like BuildKit secrets). */
export async function writeMountFile(path: string, content: Buffer | string, mode = 0o400): Promise<void> {
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
}
