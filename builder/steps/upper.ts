// Writing files straight into a fresh upperdir (COPY, ADD, WORKDIR): no container. Only additions and
// replacements happen, so no whiteouts are needed. Parent directories that exist in the image are recreated in
// the upperdir with their metadata (mode, owner, mtime) so the merged view keeps them as they were; symlinked
// parents are followed inside the rootfs (never out of it).
import { chmod, chown, copyFile, constants, link, lchown, lstat, lutimes, rm, symlink, utimes } from 'node:fs/promises';
import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, utimesSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { secureResolve } from '../fsutil.js';

export interface Owner {
  uid: number;
  gid: number;
}

export class UpperWriter {
  /** Directories whose mtime to restore at the end (children change it while writing). */
  private dirTimes = new Map<string, Date>();
  private links = new Map<string, string>();
  /** Upperdir directories known to exist (saves an lstat per path component per file). */
  private known = new Set<string>();

  constructor(readonly view: string, readonly upper: string) {}

  /** Resolves a container path's parent through the image's symlinks; the last component is kept. */
  async resolve(containerPath: string): Promise<string> {
    const parent = await secureResolve(this.view, posix.dirname(containerPath));
    return posix.join(parent, posix.basename(containerPath));
  }

  async viewStat(containerPath: string): Promise<Stats | undefined> {
    return lstat(posix.join(this.view, containerPath)).catch(() => undefined);
  }

  /** Makes every directory of `dir` (a resolved container path) in the upperdir. New ones get `owner`, 0755. */
  // Directory operations are synchronous: thousands of tiny metadata calls are much cheaper without thread-pool
  // round trips. File contents are copied asynchronously (in parallel).
  async mkdirs(dir: string, owner: Owner = { uid: 0, gid: 0 }, created?: string[]): Promise<void> {
    const parts = dir.split('/').filter(Boolean);
    let cur = '';
    for (const p of parts) {
      cur = `${cur}/${p}`;
      const up = this.upper + cur;
      if (this.known.has(up)) continue;
      const here = lstatOrUndefined(up);
      if (here?.isDirectory()) {
        this.known.add(up);
        continue;
      }
      const lower = lstatOrUndefined(posix.join(this.view, cur));
      mkdirSync(up);
      if (lower?.isDirectory()) {
        chmodSync(up, lower.mode & 0o7777);
        chownSync(up, lower.uid, lower.gid);
        this.dirTimes.set(up, lower.mtime);
      } else {
        created?.push(cur);
        chmodSync(up, 0o755);
        chownSync(up, owner.uid, owner.gid);
      }
      this.known.add(up);
    }
  }

  async writeDir(path: string, mode: number, owner: Owner, mtime: Date | undefined): Promise<void> {
    await this.mkdirs(posix.dirname(path));
    const up = this.upper + path;
    const st = lstatOrUndefined(up);
    if (st && !st.isDirectory()) rmSync(up, { recursive: true, force: true });
    if (!st?.isDirectory()) mkdirSync(up);
    this.known.add(up);
    chmodSync(up, mode);
    if (owner.uid !== 0 || owner.gid !== 0 || st?.isDirectory()) chownSync(up, owner.uid, owner.gid);
    if (mtime) this.dirTimes.set(up, mtime);
  }

  /** Copies a regular file; files sharing an inode in the source (`hardlinkKey`) stay hard links. */
  async writeFile(path: string, src: string, st: Stats, mode: number, owner: Owner, hardlinkKey?: string): Promise<void> {
    await this.mkdirs(posix.dirname(path));
    const up = this.upper + path;
    const first = hardlinkKey !== undefined ? this.links.get(hardlinkKey) : undefined;
    if (first) {
      await rm(up, { recursive: true, force: true });
      await link(first, up);
      return;
    }
    let replaced = false;
    try {
      // copyFile keeps the source's mode; we run as root, so a new file is 0:0.
      await copyFile(src, up, constants.COPYFILE_FICLONE);
    } catch {
      replaced = true;
      await rm(up, { recursive: true, force: true });
      await copyFile(src, up, constants.COPYFILE_FICLONE);
    }
    if (replaced || owner.uid !== 0 || owner.gid !== 0) await chown(up, owner.uid, owner.gid);
    if (replaced || mode !== (st.mode & 0o7777)) await chmod(up, mode);
    await utimes(up, st.atime, st.mtime);
    if (hardlinkKey !== undefined) this.links.set(hardlinkKey, up);
  }

  async writeSymlink(path: string, target: string, owner: Owner, mtime: Date | undefined): Promise<void> {
    await this.mkdirs(posix.dirname(path));
    const up = this.upper + path;
    await rm(up, { recursive: true, force: true });
    await symlink(target, up);
    await lchown(up, owner.uid, owner.gid);
    if (mtime) await lutimes(up, mtime, mtime);
  }

  /** Restores directory mtimes, deepest first. */
  async finish(): Promise<void> {
    const dirs = [...this.dirTimes.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [d, t] of dirs) {
      try {
        utimesSync(d, t, t);
      } catch {
        /* removed meanwhile */
      }
    }
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
