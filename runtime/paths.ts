// Paths inside a rootfs as the container sees them: symlinks followed with `/` and `..` clamped at the root.
// Mount points are opened through root-fd (openat2 RESOLVE_IN_ROOT) and mounted onto through their O_PATH fd, so
// nothing can be swapped between resolving and mounting (runc's CVE-2021-30465). resolveInRoot is the older
// string walk, kept for the /etc/passwd lookups of users.ts.
// Synchronous fs calls on purpose: a few microseconds each, cheaper than a thread-pool round trip per call.
import { lstatSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TsbuildError } from '../oci/index.js';
import { LibcError, mkdirat, O, openat, readlinkat } from './libc.js';
import { closeFd, hostPathOf, innerPathOf, mkdirAllIn, openPathIn, openRoot, statFd, type RootDir } from './root-fd.js';

const MAX_LINKS = 40;

/** A path the runtime refused (a symlink loop, a file where a directory is needed). */
export class RootPathError extends TsbuildError {
  override name = 'RootPathError';
  constructor(
    readonly root: string,
    readonly path: string,
    reason: string,
  ) {
    super('ROOT_PATH', `${path} (in ${root}): ${reason}`, {
      hint: 'the path must lead to a directory inside the image (no symbolic link loop, no file in the way): fix the Buildfile or the image',
    });
  }
}

function parts(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/**
 * Resolves `path` (as seen inside the container) to a host path under `root`, following symlinks inside the root.
 * Missing trailing components are kept as they are. Returns the host path and the container path it resolved to.
 */
export async function resolveInRoot(root: string, path: string): Promise<{ host: string; inner: string }> {
  const done: string[] = [];
  let todo = parts(path);
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, name);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      done.push(name, ...todo.filter((t) => t !== '..'));
      todo = [];
      break;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new RootPathError(root, path, 'too many levels of symbolic links');
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      todo = [...parts(target), ...todo];
      continue;
    }
    done.push(name);
  }
  return { host: join(root, ...done), inner: '/' + done.join('/') };
}

/** A mount point opened inside a rootfs: mount onto `fdPath(fd)`; `path` (its host path) reaches what was mounted. */
export interface MountPoint {
  fd: number;
  /** Host path, as the kernel names the fd: for work inside a filesystem just mounted there (ours, fresh). */
  path: string;
  /** Path inside the root. */
  inner: string;
}

/**
 * Opens the mount point `path` inside `root` as the container sees it (symlinks followed inside the root, `..`
 * clamped), making it and its parents when missing; a dangling symlink at the end is followed to where it points,
 * as the old string walk did (`/etc/resolv.conf -> ../run/…`). `created` receives the inner path of everything
 * made, for removeTraces. Refuses a directory over a file and a file over a directory. The caller closes `fd`.
 */
export function openMountPoint(
  root: RootDir,
  path: string,
  kind: 'dir' | 'file',
  created: string[],
  isInUpper?: (inner: string) => boolean,
): MountPoint {
  let p = posix.normalize(`/${path}`);
  for (let links = 0; ; links++) {
    if (links > MAX_LINKS) throw new RootPathError(root.path, path, 'too many levels of symbolic links');
    let fd: number | undefined;
    try {
      fd = openPathIn(root, p);
    } catch (e) {
      if (e instanceof LibcError && e.code === 'ENOTDIR') throw new RootPathError(root.path, p, 'not a directory');
      if (e instanceof LibcError && e.code === 'ELOOP')
        throw new RootPathError(root.path, p, 'too many levels of symbolic links');
      if (!(e instanceof LibcError && e.code === 'ENOENT') || p === '/') throw e;
    }
    if (fd === undefined) {
      const next = createMountPoint(root, p, kind, created, isInUpper);
      if (typeof next === 'string') {
        p = next;
        continue;
      }
      fd = next;
    }
    try {
      const inner = innerPathOf(root, fd);
      const isDir = statFd(fd).isDirectory();
      if (kind === 'dir' && !isDir) throw new RootPathError(root.path, inner, 'not a directory');
      if (kind === 'file' && isDir) throw new RootPathError(root.path, inner, 'is a directory');
      return { fd, path: hostPathOf(fd), inner };
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }
}

/** Makes the missing last component of `p` (O_EXCL, no symlink followed); a symlink there gives its target path. */
function createMountPoint(
  root: RootDir,
  p: string,
  kind: 'dir' | 'file',
  created: string[],
  isInUpper?: (inner: string) => boolean,
): number | string {
  if (isInUpper) noteCopyUps(root, p, created, isInUpper);
  const dir = mkdirAllIn(root, posix.dirname(p), 0o755, 'inRoot', (fd) => created.push(innerPathOf(root, fd)));
  const name = posix.basename(p);
  try {
    let target: string | undefined;
    try {
      target = readlinkat(dir, name);
    } catch (e) {
      if (!(e instanceof LibcError && (e.code === 'ENOENT' || e.code === 'EINVAL'))) throw e;
    }
    if (target !== undefined) return target.startsWith('/') ? target : posix.join(innerPathOf(root, dir), target);
    if (kind === 'dir') mkdirat(dir, name, 0o755);
    else closeFd(openat(dir, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, 0o644));
    const fd = openat(dir, name, O.PATH | O.NOFOLLOW);
    created.push(innerPathOf(root, fd));
    return fd;
  } finally {
    closeFd(dir);
  }
}

/**
 * Making something under a directory of a lower layer copies that directory (and its parents) up into the
 * upperdir: those are the runtime's traces too, when the upperdir did not have them before.
 */
function noteCopyUps(root: RootDir, p: string, created: string[], isInUpper: (inner: string) => boolean): void {
  let q = posix.dirname(p);
  let fd: number | undefined;
  while (fd === undefined) {
    try {
      fd = openPathIn(root, q);
    } catch (e) {
      if (!(e instanceof LibcError && e.code === 'ENOENT') || q === '/') return;
      q = posix.dirname(q);
    }
  }
  let existing: string;
  try {
    existing = innerPathOf(root, fd);
  } finally {
    closeFd(fd);
  }
  let a = '';
  for (const name of existing.split('/').filter(Boolean)) {
    a = `${a}/${name}`;
    if (!isInUpper(a)) created.push(a);
  }
}

/** mkdir -p inside the root, each component resolved without leaving it; returns the host path made. */
export async function mkdirInRoot(root: string, path: string, mode = 0o755): Promise<string> {
  const r = openRoot(root);
  try {
    const fd = mkdirAllIn(r, path, mode);
    try {
      return hostPathOf(fd);
    } finally {
      closeFd(fd);
    }
  } finally {
    r.close();
  }
}
