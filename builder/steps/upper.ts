// Writing files straight into a fresh upperdir (COPY, ADD, WORKDIR): no container. Only additions and
// replacements happen, so no whiteouts are needed. Parent directories that exist in the image are recreated in
// the upperdir with their metadata (mode, owner, mtime) so the merged view keeps them as they were; symlinked
// parents are followed inside the rootfs (never out of it).
import { chmod, chown, copyFile, constants, link, lchown, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
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
  async mkdirs(dir: string, owner: Owner = { uid: 0, gid: 0 }, created?: string[]): Promise<void> {
    const parts = dir.split('/').filter(Boolean);
    let cur = '';
    for (const p of parts) {
      cur = `${cur}/${p}`;
      const up = this.upper + cur;
      if (this.known.has(up)) continue;
      if (await lstat(up).then((s) => s.isDirectory(), () => false)) {
        this.known.add(up);
        continue;
      }
      const lower = await this.viewStat(cur);
      await mkdir(up);
      if (lower?.isDirectory()) {
        await chmod(up, lower.mode & 0o7777);
        await chown(up, lower.uid, lower.gid);
        this.dirTimes.set(up, lower.mtime);
      } else {
        created?.push(cur);
        await chmod(up, 0o755);
        await chown(up, owner.uid, owner.gid);
      }
      this.known.add(up);
    }
  }

  async writeDir(path: string, mode: number, owner: Owner, mtime: Date | undefined): Promise<void> {
    await this.mkdirs(posix.dirname(path));
    const up = this.upper + path;
    const st = await lstat(up).catch(() => undefined);
    if (st && !st.isDirectory()) await rm(up, { recursive: true, force: true });
    if (!st?.isDirectory()) await mkdir(up);
    this.known.add(up);
    await chmod(up, mode);
    await chown(up, owner.uid, owner.gid);
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
    for (const [d, t] of dirs) await utimes(d, t, t).catch(() => undefined);
  }
}
