// Paths inside a root that untrusted input shaped (a build context, an image rootfs, an upperdir), opened by the
// kernel rather than by string joins: openat2 resolves every component inside the root, so no symlink or `..`
// leaves it, and the caller then works on the fd it got, so no component can be swapped between check and use
// (runc's fix for CVE-2021-30465 mounts through /proc/self/fd/N of such an fd; BuildKit's for CVE-2024-23652
// removes only what it made). Two ways to resolve:
//  - `inRoot`: as the container sees it: symlinks are followed with the root as `/` (RESOLVE_IN_ROOT);
//  - `beneath`: our own trees (an upperdir this step writes): any symlink on the way is refused (RESOLVE_BENEATH |
//    RESOLVE_NO_SYMLINKS), because only this step put one there.
import { fstatSync, readlinkSync, readSync, rmSync, type Stats } from 'node:fs';
import { constants as osConstants } from 'node:os';
import {
  AT,
  closeFd,
  fchownat,
  LibcError,
  linkat,
  mkdirat,
  tryMkdirat,
  O,
  openat,
  openat2,
  RESOLVE,
  symlinkat,
  unlinkat,
  utimensat,
} from './libc.js';
import { TsbuildError } from '../oci/index.js';
import { REPORT_HINT, RuntimeError } from './errors.js';

export type Resolution = 'inRoot' | 'beneath';

const RESOLVE_FLAGS: Record<Resolution, number> = {
  inRoot: RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS,
  beneath: RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS,
};

/** A path refused because it would leave its root or cross a symlink where none may be. */
export class RootEscapeError extends TsbuildError {
  override name = 'RootEscapeError';
  constructor(
    readonly root: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super('ROOT_ESCAPE', `${path} (in ${root}): ${reason}`, {
      hint: 'a symbolic link or `..` in the image, context or Buildfile points out of its root, which tsbuild does not follow: fix the path or the link',
    });
  }
}

/** An open directory fd standing for a root; `path` is for messages only. */
export interface RootDir {
  readonly fd: number;
  readonly path: string;
  close(): void;
}

/** Opens a root the caller trusts by path (the store, the context directory the user named, a mounted view). */
export function openRoot(path: string): RootDir {
  const fd = openat(AT.FDCWD, path, O.PATH | O.DIRECTORY);
  let open = true;
  return {
    fd,
    path,
    close: () => {
      if (open) closeFd(fd);
      open = false;
    },
  };
}

function relative(path: string): string {
  const p = path.replace(/^\/+/, '');
  return p === '' ? '.' : p;
}

/**
 * Opens `path` inside `root` (`flags` as openat(2); O_CLOEXEC always). An escape is a RootEscapeError (EXDEV from
 * openat2 means the walk left the root; ELOOP under `beneath` means a symlink was on the way).
 */
export function openIn(root: RootDir, path: string, flags: number, how: Resolution = 'inRoot', mode = 0): number {
  try {
    return openat2(root.fd, relative(path), flags, mode, RESOLVE_FLAGS[how]);
  } catch (e) {
    if (e instanceof LibcError && (e.code === 'EXDEV' || (how === 'beneath' && e.code === 'ELOOP'))) {
      throw new RootEscapeError(
        root.path,
        path,
        e.code === 'EXDEV' ? 'resolves outside the root' : 'a symbolic link is on the way',
      );
    }
    throw e;
  }
}

/** An O_PATH fd of what `path` names inside the root (the last component followed too, under `inRoot`). */
export function openPathIn(root: RootDir, path: string, how: Resolution = 'inRoot'): number {
  return openIn(root, path, O.PATH, how);
}

/** `/proc/self/fd/N`: hands an fd to an API that takes paths (mount(2), overlay options) without a re-walk. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** Where an fd points now, as a host path (the kernel's name for it: no symlink in it, `..` resolved). */
export function hostPathOf(fd: number): string {
  return readlinkSync(fdPath(fd));
}

/**
 * The path inside `root` that `fd` points to (`/` for the root itself), from the kernel's names of both; an fd
 * outside the root is a RootEscapeError.
 */
export function innerPathOf(root: RootDir, fd: number): string {
  const top = hostPathOf(root.fd);
  const host = hostPathOf(fd);
  if (host === top) return '/';
  const prefix = top === '/' ? '/' : `${top}/`;
  if (!host.startsWith(prefix)) throw new RootEscapeError(root.path, host, 'is not inside the root');
  return `/${host.slice(prefix.length)}`;
}

export function statFd(fd: number): Stats {
  return fstatSync(fd);
}

/** Up to `len` bytes of `fd` from `position`, fewer at its end (short reads are read on). */
export function readFdAt(fd: number, len: number, position = 0): Buffer {
  const buf = Buffer.alloc(Math.max(0, len));
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/**
 * mkdir -p of `dir` inside the root; missing directories are made with `mode` (then `onCreate(fd, path)` may set
 * their owner and times on the fd). Returns an O_PATH|O_DIRECTORY fd of the last one; the caller closes it.
 */
export function mkdirAllIn(
  root: RootDir,
  dir: string,
  mode: number,
  how: Resolution = 'inRoot',
  onCreate?: (fd: number, path: string) => void,
): number {
  const parts = dir.split('/').filter((p) => p !== '' && p !== '.');
  let cur = openIn(root, '.', O.PATH | O.DIRECTORY, how);
  let path = '';
  try {
    for (const name of parts) {
      if (name === '..') throw new RootEscapeError(root.path, dir, '`..` in a path to create');
      path = `${path}/${name}`;
      let next: number;
      try {
        next = openIn(root, path, O.PATH | O.DIRECTORY, how);
      } catch (e) {
        if (!(e instanceof LibcError && e.code === 'ENOENT')) throw e;
        mkdirat(cur, name, mode);
        next = openat(cur, name, O.PATH | O.DIRECTORY | O.NOFOLLOW);
        onCreate?.(next, path);
      }
      closeFd(cur);
      cur = next;
    }
    return cur;
  } catch (e) {
    closeFd(cur);
    throw e;
  }
}

/**
 * Creates a regular file `name` in the directory `dirFd` (an fd from openIn/mkdirAllIn): whatever non-directory
 * stands there is unlinked first, then O_CREAT|O_EXCL|O_NOFOLLOW, so the write can never land behind a symlink.
 * Returns a writable fd. A directory in the way is an error (unlinkat's EISDIR): the caller decides about those.
 */
export function createFileAt(dirFd: number, name: string, mode: number): number {
  if (name === '' || name === '.' || name === '..' || name.includes('/'))
    throw new RuntimeError('BAD_NAME', `createFileAt: bad name "${name}"`, { hint: REPORT_HINT });
  const flags = O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW;
  // the create is tried first (O_EXCL never follows a link: whatever stands there is EEXIST), so the common case
  // of a fresh name costs one call, not a failing unlink and a create
  try {
    return openat(dirFd, name, flags, mode);
  } catch (e) {
    if (!(e instanceof LibcError && e.code === 'EEXIST')) throw e;
  }
  unlinkat(dirFd, name, 0);
  return openat(dirFd, name, flags, mode);
}

function checkName(call: string, name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/'))
    throw new RuntimeError('BAD_NAME', `${call}: bad name "${name}"`, { hint: REPORT_HINT });
}

/** Unlinks the non-directory `name` in `dirFd`, if any (a directory is unlinkat's EISDIR: the caller's choice). */
function unlinkIfAny(dirFd: number, name: string): void {
  try {
    unlinkat(dirFd, name, 0);
  } catch (e) {
    if (!(e instanceof LibcError && e.code === 'ENOENT')) throw e;
  }
}

/**
 * Opens the directory `name` in `dirFd` (O_RDONLY, so fchown/fchmod/futimes work on the fd), making it with
 * `mode` when missing; a non-directory there is unlinked first when `replace`, an error otherwise. A symbolic link
 * is never followed. `created` tells the caller whether to set the new directory's owner and mode.
 */
export function openDirAt(
  dirFd: number,
  name: string,
  mode: number,
  replace: boolean,
  /** The name most likely does not exist (its parent was just made): made first, opened when it does exist. */
  likelyMissing = false,
): { fd: number; created: boolean } {
  checkName('openDirAt', name);
  const flags = O.RDONLY | O.DIRECTORY | O.NOFOLLOW;
  if (likelyMissing) {
    // no error object for the usual case (an ENOENT costs ≈ 25 µs to throw and catch)
    const errno = tryMkdirat(dirFd, name, mode);
    if (errno === 0) return { fd: openat(dirFd, name, flags), created: true };
    if (errno !== osConstants.errno.EEXIST) throw new LibcError('mkdirat', errno, name);
  }
  try {
    return { fd: openat(dirFd, name, flags), created: false };
  } catch (e) {
    if (!(e instanceof LibcError)) throw e;
    if (e.code === 'ENOTDIR' || e.code === 'ELOOP') {
      if (!replace) throw e;
      unlinkat(dirFd, name, 0);
    } else if (e.code !== 'ENOENT') throw e;
  }
  mkdirat(dirFd, name, mode);
  return { fd: openat(dirFd, name, flags), created: true };
}

/** Removes whatever `name` in `dirFd` is, a directory with its contents included; nothing there is fine. */
export function removeAt(dirFd: number, name: string): void {
  checkName('removeAt', name);
  // rm walks below /proc/self/fd/N with lstat (never following a link) and N is the directory we hold.
  rmSync(`${fdPath(dirFd)}/${name}`, { recursive: true, force: true });
}

/** A symbolic link `name` → `target` in `dirFd`, replacing a non-directory there; owner and mtime set on the link. */
export function symlinkAt(
  dirFd: number,
  name: string,
  target: string,
  uid: number,
  gid: number,
  mtimeMs: number | undefined,
): void {
  checkName('symlinkAt', name);
  unlinkIfAny(dirFd, name);
  symlinkat(target, dirFd, name);
  fchownat(dirFd, name, uid, gid, AT.SYMLINK_NOFOLLOW);
  if (mtimeMs !== undefined) utimensat(dirFd, name, mtimeMs, mtimeMs, AT.SYMLINK_NOFOLLOW);
}

const AT_SYMLINK_FOLLOW = 0x400;

/**
 * A hard link `name` in `dirFd` to the file open as `fd` (by inode: no path is walked again), replacing a
 * non-directory.
 */
export function linkFdAt(fd: number, dirFd: number, name: string): void {
  checkName('linkFdAt', name);
  unlinkIfAny(dirFd, name);
  linkat(AT.FDCWD, fdPath(fd), dirFd, name, AT_SYMLINK_FOLLOW);
}

export { closeFd };
