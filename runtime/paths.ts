// Path resolution inside a root directory that never leaves it (securejoin's idea): symlinks are followed as the
// container would see them, with `/` and `..` clamped at the root. Used on the rootfs before anything runs in it.
// Synchronous fs calls on purpose: a few microseconds each, cheaper than a thread-pool round trip per call.
import { lstatSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_LINKS = 40;

/** A path the runtime refused (a symlink loop, a file where a directory is needed). */
export class RootPathError extends Error {
  override name = 'RootPathError';
  constructor(readonly root: string, readonly path: string, reason: string) {
    super(`${path} (in ${root}): ${reason}`);
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

/**
 * Makes sure a mount point of the given kind exists at `path` inside `root` (directories made as needed) and
 * returns its host path. Refuses to mount a directory over a file or a file over a directory.
 */
export async function ensureMountPoint(root: string, path: string, kind: 'dir' | 'file'): Promise<string> {
  const { host, inner } = await resolveInRoot(root, path);
  const st = lstatSync(host, { throwIfNoEntry: false });
  if (st) {
    if (kind === 'dir' && !st.isDirectory()) throw new RootPathError(root, inner, 'not a directory');
    if (kind === 'file' && st.isDirectory()) throw new RootPathError(root, inner, 'is a directory');
    return host;
  }
  const parent = inner.split('/').slice(0, -1).join('/') || '/';
  await mkdirInRoot(root, parent);
  if (kind === 'dir') mkdirSync(host, { mode: 0o755 });
  else writeFileSync(host, '', { mode: 0o644, flag: 'wx' });
  return host;
}

/** mkdir -p inside the root, each component resolved without leaving it. */
export async function mkdirInRoot(root: string, path: string, mode = 0o755): Promise<string> {
  let cur = '/';
  for (const name of parts(path)) {
    const { host, inner } = await resolveInRoot(root, `${cur}/${name}`);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) mkdirSync(host, { mode });
    else if (!st.isDirectory()) throw new RootPathError(root, inner, 'not a directory');
    cur = inner;
  }
  return (await resolveInRoot(root, cur)).host;
}
