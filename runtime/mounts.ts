// The container's mount tree: overlay root, /dev, /proc, /sys, the generated /etc files and the spec's mounts.
// The same code runs in the parent (chroot isolation: a private tree under the run dir) and in init.ts (pivot
// isolation: inside the container's own mount namespace). Mount points the rootfs lacks are created in it and
// reported as traces, so the caller can take them out of the upperdir afterwards.
// Synchronous fs calls on purpose: tiny operations, cheaper than a thread-pool round trip each.
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { LibcError, MOUNT_ATTR, mount, mountFs, MS } from './libc.js';
import { ensureMountPoint } from './paths.js';
import { overlayLowerOrder } from './overlay-order.js';

/** /proc paths made read-only and masked, as runc does (kept in step with helper/tsbuild-exec.c). */
export const PROC_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
export const PROC_MASKED_FILES = ['/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug'];
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

/** A mount as the runtime executes it; `file` mounts from the spec have already been written to `source`. */
export type PlannedMount =
  | { type: 'bind'; source: string; target: string; readonly: boolean; file: boolean }
  | { type: 'tmpfs'; target: string; size?: number };

export interface MountTreeOptions {
  /** Host directory the overlay is mounted on (the container's `/`). */
  root: string;
  /** Generated files bound over /etc (host paths). */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  mounts: PlannedMount[];
  /** Mount /proc and /sys here too (pivot isolation); in chroot isolation unshare mounts /proc and the parent /sys. */
  procAndSys: boolean;
}

function escapeOverlayPath(p: string): string {
  return p.replace(/([\\:,])/g, '\\$1');
}

/**
 * Mounts an overlay. When the absolute lowerdir list does not fit in a page, the lowerdirs are given one by one
 * (`lowerdir+` through the new mount API, Linux 6.8+); on older kernels, relative to their common parent directory
 * while the process's cwd is that directory (Docker's overlay2 trick).
 */
export function mountOverlay(lowerdirs: string[], upperdir: string, workdir: string, target: string): void {
  const opts = (lowers: string[]): string =>
    `lowerdir=${lowers.map(escapeOverlayPath).join(':')},upperdir=${escapeOverlayPath(upperdir)},workdir=${escapeOverlayPath(workdir)}`;
  // overlay's lowerdir order is topmost first, without repeats; the spec lists the lowest first.
  const top = overlayLowerOrder(lowerdirs);
  const abs = opts(top);
  if (abs.length < PAGE) {
    mount('overlay', target, 'overlay', MS.NODEV, abs);
    return;
  }
  try {
    mountFs('overlay', target, [...top.map((d): [string, string] => ['lowerdir+', d]), ['upperdir', upperdir], ['workdir', workdir]], MOUNT_ATTR.NODEV);
    return;
  } catch (e) {
    if (!(e instanceof LibcError) || !['EINVAL', 'ENOSYS'].includes(e.code)) throw e;
  }
  const parent = commonParent(top);
  const rel = opts(top.map((d) => relative(parent, d)));
  if (rel.length >= PAGE) throw new Error(`overlay: ${top.length} lowerdirs do not fit in one page even relative to ${parent}`);
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
async function mountDev(root: string): Promise<string> {
  const dev = await ensureMountPoint(root, '/dev', 'dir');
  // nodev: only the nodes bound below (their own mounts) open; a node made with mknod does not.
  mount('tmpfs', dev, 'tmpfs', MS.NOSUID | MS.NODEV | MS.STRICTATIME, 'mode=755,size=65536k');
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

/** Binds `source` on `target`, always nosuid+nodev (a host directory's device nodes must not open). */
function bindReadonly(source: string, target: string, readonly: boolean): void {
  mount(source, target, null, MS.BIND | MS.REC);
  mount(null, target, null, MS.REMOUNT | MS.BIND | MS.NOSUID | MS.NODEV | (readonly ? MS.RDONLY : 0));
}

/** Mounts read-only sysfs on a mount point (do it while in the container's network namespace). */
export function mountSysAt(path: string): void {
  mount('sysfs', path, 'sysfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
}

/** Mounts everything but the overlay itself; returns the host paths of the /proc and /sys mount points. */
export async function mountTree(o: MountTreeOptions): Promise<{ proc: string; sys: string }> {
  const dev = await mountDev(o.root);
  const proc = await ensureMountPoint(o.root, '/proc', 'dir');
  const sys = await ensureMountPoint(o.root, '/sys', 'dir');
  if (o.procAndSys) {
    mount('proc', proc, 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC);
    protectProc(proc, join(dev, 'null'));
    mountSysAt(sys);
  }
  bindReadonly(o.etcFiles.hosts, await ensureMountPoint(o.root, '/etc/hosts', 'file'), true);
  bindReadonly(o.etcFiles.hostname, await ensureMountPoint(o.root, '/etc/hostname', 'file'), true);
  bindReadonly(o.etcFiles.resolvConf, await ensureMountPoint(o.root, '/etc/resolv.conf', 'file'), true);
  // Shallow targets first, so a mount inside another one gets its mount point in the outer mount, not the layer.
  const ordered = [...o.mounts].sort((a, b) => depth(a.target) - depth(b.target));
  for (const m of ordered) {
    if (m.type === 'tmpfs') {
      const t = await ensureMountPoint(o.root, m.target, 'dir');
      mount('tmpfs', t, 'tmpfs', MS.NOSUID | MS.NODEV, `mode=1777${m.size ? `,size=${m.size}` : ''}`);
    } else {
      const t = await ensureMountPoint(o.root, m.target, m.file ? 'file' : 'dir');
      bindReadonly(m.source, t, m.readonly);
    }
  }
  return { proc, sys };
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

/** Every path in the upperdir (relative), deepest first: taken right after the mount points were made. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: import('node:fs').Dirent[] = [];
    try {
      entries = readdirSync(join(dir, rel), { withFileTypes: true });
    } catch {
      // gone
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      out.push(r);
    }
  };
  await walk('');
  return out;
}

/** Paths of `after` not in `before` (the traces: an upperdir given with content keeps that content). */
export function newPaths(before: string[], after: string[]): string[] {
  const had = new Set(before);
  return after.filter((p) => !had.has(p));
}

/**
 * Takes the mount points the runtime created back out of the upperdir (after everything is unmounted):
 * files go, directories go when the container left nothing in them.
 */
export async function removeTraces(upperdir: string, traces: string[]): Promise<void> {
  for (const rel of traces) {
    const p = join(upperdir, rel);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    try {
      if (st.isDirectory()) rmdirSync(p);
      else unlinkSync(p);
    } catch {
      // a directory the container wrote into stays
    }
  }
}

/** Writes a file mount's content where it will be bound from (mode applies; default 0400 like BuildKit secrets). */
export async function writeMountFile(path: string, content: Buffer | string, mode = 0o400): Promise<void> {
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
}
