// Writing files straight into a fresh upperdir (COPY, ADD, WORKDIR): no container. Only additions and
// replacements happen, so no whiteouts are needed. Parent directories that exist in the image are recreated in
// the upperdir with their metadata (mode, owner, mtime) so the merged view keeps them as they were; symlinked
// parents are followed inside the image's rootfs (never out of it).
// Every write goes through directory fds: the upperdir is walked `beneath` with no symlink followed (whatever
// is in it, an earlier source of this step put there, and a source is untrusted), the last component is unlinked
// and created with O_EXCL|O_NOFOLLOW, and owner, mode and times are set on the new fd — as the layer unpacker does.
import {
  closeSync,
  copyFile,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  readSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { promisify } from 'node:util';
import { AT, fchownat, LibcError, O, openat, unlinkat, utimensat } from '../../runtime/index.js';
import {
  closeFd,
  createFileAt,
  fdPath,
  linkFdAt,
  openDirAt,
  openIn,
  openRoot,
  removeAt,
  symlinkAt,
  type RootDir,
} from '../../runtime/index.js';
import { fileWriter, FLAG_CHMOD, FLAG_CHOWN, MAX_QUEUED_BODY, type WriterSession } from '../../store/index.js';
import { cleanAbs, secureResolve } from '../fsutil.js';

const copyFileAsync = promisify(copyFile);

export interface Owner {
  uid: number;
  gid: number;
}

/** A write that would cross something an earlier source of the same step put in the way. */
export class UpperWriteError extends Error {
  override name = 'UpperWriteError';
}

/**
 * Files up to this size are copied by read and write on this thread: for a small file, copy_file_range's round
 * trip through the thread pool costs several times the copy itself (docs/performance.md).
 */
export const SMALL_COPY_MAX = 64 * 1024;
let smallBuffer: Buffer | undefined;
/** Files a writer copies itself before it asks for the writer thread (starting one costs a few ms). */
const QUEUE_AFTER = 256;

/**
 * Whole milliseconds as the seconds futimes takes: libuv before 1.52 keeps whole microseconds of the double, so
 * half a microsecond more makes the floor land on the millisecond itself (the copy path sets exactly that).
 */
function seconds(ms: number): number {
  return Math.round(ms) / 1000 + 5e-7;
}

/**
 * Whether the writer thread can set a file's times to the millisecond: it has only Node's futimes, which takes
 * seconds as a double. libuv 1.52 (libuv#4951; Node 24.22 has 1.52.1) stopped truncating them to microseconds, and a
 * double near today's seconds resolves ≈ 240 ns, so there the times would land a few hundred ns past the
 * millisecond: those files are written on this thread instead (seconds() is exact with 1.46, Node 20's).
 */
const FUTIMES_WHOLE_MICROSECONDS = ((): boolean => {
  const [major = 0, minor = 0] = process.versions.uv.split('.').map(Number);
  return major === 1 && minor < 52;
})();

/** Open directory fds kept at most; past that the cache starts over (each reopen is one openat). */
const MAX_DIR_FDS = 1024;

export class UpperWriter {
  /** Directories whose mtime to restore at the end (children change it while writing). */
  private dirTimes = new Map<string, Date>();
  /** Hard-link groups of the source: key → the container path of the first copy. */
  private links = new Map<string, string>();
  /**
   * Upperdir directories (container paths) with the set-group-ID bit: what is made in one takes its group, so a file
   * or directory owned by 0:0 is chowned there too (BuildKit chowns every entry it copies).
   */
  private setgid = new Set<string>();
  /** Upperdir directories (container paths) → O_RDONLY|O_DIRECTORY fds. */
  private dirs = new Map<string, number>();
  /** Directory fds an async call is using (`pins`), and those to close once it is done (`retired`). */
  private pins = new Map<number, number>();
  private retired = new Set<number>();
  /** Opened on the first write, closed by finish()/close() (a WORKDIR that only looks opens nothing). */
  private upperRoot: RootDir | undefined;
  private viewRoot: RootDir | undefined;
  /**
   * Directories (container paths) this writer made since the last settle(): a queued file there (`queue`) is a
   * name nothing else holds, so the writer thread can create it with O_EXCL, in parallel with this one.
   */
  private fresh = new Set<string>();
  private session: WriterSession | undefined;
  /** Queued files' [record number, directory fd], the fds pinned until written; `queuedHead` is the next one. */
  private queuedDirs: [number, number][] = [];
  private queuedHead = 0;
  private askedWriter = false;
  private queueable = 0;

  constructor(
    readonly view: string,
    readonly upper: string,
  ) {}

  /** Resolves a container path's parent through the image's symlinks; the last component is kept. */
  async resolve(containerPath: string): Promise<string> {
    const parent = await secureResolve(this.view, posix.dirname(containerPath));
    return posix.join(parent, posix.basename(containerPath));
  }

  /** lstat of a resolved container path in the image (no symlink followed, never outside the view). */
  async viewStat(containerPath: string): Promise<Stats | undefined> {
    const root = openRoot(this.view);
    try {
      return statIn(root, containerPath);
    } finally {
      root.close();
    }
  }

  private lowerStat(path: string): Stats | undefined {
    this.viewRoot ??= openRoot(this.view);
    return statIn(this.viewRoot, path);
  }

  /** Makes every directory of `dir` (a resolved container path) in the upperdir. New ones get `owner`, 0755. */
  // Directory operations are synchronous: thousands of tiny metadata calls are much cheaper without thread-pool
  // round trips. File contents are copied asynchronously (in parallel).
  async mkdirs(dir: string, owner: Owner = { uid: 0, gid: 0 }, created?: string[]): Promise<void> {
    this.trim();
    this.dirFd(cleanAbs(dir), owner, created);
  }

  /** The fd of the upperdir directory `dir` (made as mkdirs does); valid until the next call into the writer. */
  dirOf(dir: string): number {
    this.trim();
    return this.dirFd(cleanAbs(dir), { uid: 0, gid: 0 });
  }

  /** Forgets the directory fds at and below `dir` (something else rewrote that tree). */
  forget(dir: string): void {
    this.settle();
    const d = cleanAbs(dir);
    for (const [p, fd] of this.dirs) {
      if (p === d || d === '/' || p.startsWith(`${d}/`)) {
        this.retire(fd);
        this.dirs.delete(p);
      }
    }
  }

  private trim(): void {
    if (this.dirs.size < MAX_DIR_FDS) return;
    for (const fd of this.dirs.values()) this.retire(fd);
    this.dirs.clear();
  }

  private retire(fd: number): void {
    if (this.pins.has(fd)) this.retired.add(fd);
    else closeFd(fd);
  }

  private pin(fd: number): void {
    this.pins.set(fd, (this.pins.get(fd) ?? 0) + 1);
  }

  private unpin(fd: number): void {
    const n = this.pins.get(fd)! - 1;
    if (n > 0) this.pins.set(fd, n);
    else {
      this.pins.delete(fd);
      if (this.retired.delete(fd)) closeFd(fd);
    }
  }

  /**
   * Copies `srcFd` to a new regular file `path`, on the thread pool (creating thousands of files one after the
   * other on this thread would serialize them): the create is O_CREAT|O_EXCL below the directory fd we hold
   * (/proc/self/fd/N/name starts at that directory, and O_EXCL never follows a link at `name`); whatever stands
   * there is unlinked first, a directory removed. Returns the directory fd, pinned: the caller unpins it.
   */
  private async copyNew(path: string, srcFd: number): Promise<number> {
    const dirFd = this.dirFd(posix.dirname(path), { uid: 0, gid: 0 });
    const name = posix.basename(path);
    const at = `${fdPath(dirFd)}/${name}`;
    // contents by the kernel (reflink or copy_file_range); the source is reopened through its fd, by inode
    const copy = (): Promise<void> =>
      copyFileAsync(fdPath(srcFd), at, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    this.pin(dirFd);
    try {
      try {
        await copy();
        return dirFd;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      try {
        unlinkat(dirFd, name, 0);
      } catch (e) {
        if (!(e instanceof LibcError && e.code === 'EISDIR')) throw e;
        this.forget(path);
        removeAt(dirFd, name);
      }
      await copy();
      return dirFd;
    } catch (e) {
      this.unpin(dirFd);
      throw e;
    }
  }

  private dirFd(path: string, owner: Owner, created?: string[]): number {
    const hit = this.dirs.get(path);
    if (hit !== undefined) return hit;
    if (path === '/') {
      this.upperRoot ??= openRoot(this.upper);
      const fd = openIn(this.upperRoot, '.', O.RDONLY | O.DIRECTORY, 'beneath');
      this.dirs.set(path, fd);
      return fd;
    }
    const parent = this.dirFd(posix.dirname(path), owner, created);
    let r: { fd: number; created: boolean };
    try {
      r = openDirAt(parent, posix.basename(path), 0o755, false);
    } catch (e) {
      if (e instanceof LibcError && (e.code === 'ELOOP' || e.code === 'ENOTDIR')) {
        throw new UpperWriteError(
          `${path} is ${e.code === 'ELOOP' ? 'a symbolic link' : 'not a directory'} written by an earlier source of this step: nothing is written through it (copy the sources to different destinations)`,
        );
      }
      throw e;
    }
    if (r.created) {
      this.fresh.add(path);
      const lower = this.lowerStat(path);
      if (lower?.isDirectory()) {
        fchownSync(r.fd, lower.uid, lower.gid);
        fchmodSync(r.fd, lower.mode & 0o7777);
        if (lower.mode & 0o2000) this.setgid.add(path);
        this.dirTimes.set(path, lower.mtime);
      } else {
        created?.push(path);
        fchownSync(r.fd, owner.uid, owner.gid);
        fchmodSync(r.fd, 0o755);
      }
    } else if (fstatSync(r.fd).mode & 0o2000) this.setgid.add(path);
    this.dirs.set(path, r.fd);
    return r.fd;
  }

  /** Whether a new entry at `path` must be chowned to `owner` (see `setgid`). */
  private chowns(path: string, owner: Owner): boolean {
    return owner.uid !== 0 || owner.gid !== 0 || (this.setgid.size > 0 && this.setgid.has(posix.dirname(path)));
  }

  /** Runs `make(parentFd, name)`; a directory standing at `path` (an earlier source's) is removed first. */
  private replacing<T>(path: string, make: (dirFd: number, name: string) => T): T {
    const dirFd = this.dirFd(posix.dirname(path), { uid: 0, gid: 0 });
    const name = posix.basename(path);
    try {
      return make(dirFd, name);
    } catch (e) {
      if (!(e instanceof LibcError && e.code === 'EISDIR')) throw e;
    }
    this.forget(path);
    removeAt(dirFd, name);
    return make(dirFd, name);
  }

  async writeDir(path: string, mode: number, owner: Owner, mtime: Date | undefined): Promise<void> {
    this.trim();
    const p = cleanAbs(path);
    let fd = this.dirs.get(p);
    let existed = true;
    if (fd === undefined && p === '/') fd = this.dirFd(p, owner);
    if (fd === undefined) {
      const parent = this.dirFd(posix.dirname(p), { uid: 0, gid: 0 });
      const r = openDirAt(parent, posix.basename(p), 0o755, true, this.fresh.has(posix.dirname(p)));
      fd = r.fd;
      existed = !r.created;
      if (r.created) this.fresh.add(p);
      this.dirs.set(p, fd);
    }
    if (existed || this.chowns(p, owner)) fchownSync(fd, owner.uid, owner.gid);
    fchmodSync(fd, mode);
    if (mode & 0o2000) this.setgid.add(p);
    else this.setgid.delete(p);
    if (mtime) this.dirTimes.set(p, mtime);
  }

  /**
   * Copies a regular file from `srcFd` (the caller's, open for reading); files sharing an inode in the source
   * (`hardlinkKey`) stay hard links. `seen` gets the content when it passed through this thread (a small file).
   */
  async writeFile(
    path: string,
    srcFd: number,
    st: { mode: number; size: number; atimeMs: number; mtimeMs: number },
    mode: number,
    owner: Owner,
    hardlinkKey?: string,
    queue = false,
    seen?: (content: Buffer) => void,
  ): Promise<void> {
    this.trim();
    const first = hardlinkKey !== undefined ? this.links.get(hardlinkKey) : undefined;
    if (first !== undefined) {
      const firstFd = openAt(this.dirFd(posix.dirname(first), { uid: 0, gid: 0 }), posix.basename(first));
      try {
        this.replacing(path, (dirFd, name) => linkFdAt(firstFd, dirFd, name));
      } finally {
        closeFd(firstFd);
      }
      return;
    }
    if (
      st.size <= SMALL_COPY_MAX &&
      this.copySmall(path, srcFd, st, mode, owner, queue && hardlinkKey === undefined, seen)
    ) {
      if (hardlinkKey !== undefined) this.links.set(hardlinkKey, cleanAbs(path));
      return;
    }
    const dirFd = await this.copyNew(path, srcFd);
    try {
      // The copy has the source's mode already. Owner, mode and times are set in the directory we hold, on the
      // name we just created, never following a link.
      const name = posix.basename(path);
      const chowned = this.chowns(path, owner);
      if (chowned) fchownat(dirFd, name, owner.uid, owner.gid, AT.SYMLINK_NOFOLLOW);
      if (chowned || mode !== (st.mode & 0o7777)) {
        const fd = openat(dirFd, name, O.RDONLY | O.NOFOLLOW);
        try {
          fchmodSync(fd, mode); // after chown: chown clears setuid/setgid
        } finally {
          closeFd(fd);
        }
      }
      // whole milliseconds, as the Dates of fs.Stats have them
      utimensat(dirFd, name, Math.round(st.atimeMs), Math.round(st.mtimeMs), AT.SYMLINK_NOFOLLOW);
    } finally {
      this.unpin(dirFd);
    }
    if (hardlinkKey !== undefined) this.links.set(hardlinkKey, cleanAbs(path));
  }

  /**
   * A small file copied on this thread: read once into a buffer, then a new file made as writeContent makes one.
   * False, with nothing written, when the source turns out larger than the buffer (it grew): the caller copies it
   * through the kernel instead.
   */
  private copySmall(
    path: string,
    srcFd: number,
    st: { atimeMs: number; mtimeMs: number },
    mode: number,
    owner: Owner,
    queue: boolean,
    seen: ((content: Buffer) => void) | undefined,
  ): boolean {
    const buf = (smallBuffer ??= Buffer.allocUnsafe(SMALL_COPY_MAX + 1));
    let len = 0;
    for (;;) {
      const n = readSync(srcFd, buf, len, buf.length - len, len);
      if (n === 0) break;
      len += n;
      if (len === buf.length) return false;
    }
    seen?.(buf.subarray(0, len));
    if (queue && this.queued(path, buf, len, st, mode, owner)) return true;
    const fd = this.replacing(path, (dirFd, name) => createFileAt(dirFd, name, 0o600));
    try {
      for (let off = 0; off < len;) off += writeSync(fd, buf, off, len - off);
      if (this.chowns(path, owner)) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, mode); // after chown: chown clears setuid/setgid
    } finally {
      closeSync(fd);
    }
    // whole milliseconds, as the Dates of fs.Stats have them (the name was just made in the directory we hold)
    utimensat(
      this.dirFd(posix.dirname(path), { uid: 0, gid: 0 }),
      posix.basename(path),
      Math.round(st.atimeMs),
      Math.round(st.mtimeMs),
      AT.SYMLINK_NOFOLLOW,
    );
    return true;
  }

  /**
   * Hands a new file in a directory of `fresh` to the writer thread (store/layer-tar/file-writer.ts) once a step
   * has copied enough files to pay for it: creating files is mostly kernel time, and two threads create them on
   * two cores. False when it cannot take the file (no thread, the ring full): the caller writes it.
   */
  private queued(
    path: string,
    buf: Buffer,
    len: number,
    st: { atimeMs: number; mtimeMs: number },
    mode: number,
    owner: Owner,
  ): boolean {
    if (!FUTIMES_WHOLE_MICROSECONDS || ++this.queueable <= QUEUE_AFTER || len > MAX_QUEUED_BODY) return false;
    if (!this.fresh.has(posix.dirname(path)) || st.atimeMs < 0 || st.mtimeMs < 0) return false;
    if (!this.session) {
      if (this.askedWriter) return false;
      this.askedWriter = true;
      this.session = fileWriter().begin();
      if (!this.session) return false;
    }
    const s = this.session;
    this.unpinWritten(false);
    // the thread creates the name below the directory's fd (/proc/self/fd/N/name, O_EXCL|O_NOFOLLOW), never by a
    // path through the upperdir; the fd stays open until the record is written
    const dirFd = this.dirFd(posix.dirname(path), { uid: 0, gid: 0 });
    const at = s.reserve(`${fdPath(dirFd)}/${posix.basename(path)}`, len);
    if (at < 0) return false;
    buf.copy(s.ring, at, 0, len);
    const chowned = this.chowns(path, owner);
    this.pin(dirFd);
    const n = s.commit(
      FLAG_CHMOD | (chowned ? FLAG_CHOWN : 0),
      mode,
      owner.uid,
      owner.gid,
      seconds(st.mtimeMs),
      seconds(st.atimeMs),
    );
    this.queuedDirs.push([n, dirFd]);
    return true;
  }

  /** Unpins the directory fds of the queued files the thread has written (all: every one, none is pending). */
  private unpinWritten(all: boolean): void {
    const q = this.queuedDirs;
    let i = this.queuedHead;
    while (i < q.length && (all || this.session?.isDone(q[i]![0]))) this.unpin(q[i++]![1]);
    if (i === q.length) {
      this.queuedDirs = [];
      i = 0;
    } else if (i > 4096) {
      this.queuedDirs = q.slice(i);
      i = 0;
    }
    this.queuedHead = i;
  }

  /** Waits until the writer thread has written every queued file; the directories made so far are no longer fresh. */
  settle(): void {
    this.session?.waitFor();
    this.unpinWritten(true);
    this.fresh.clear();
  }

  /** A regular file with `content` (heredocs). */
  async writeContent(path: string, content: string | Buffer, mode: number, owner: Owner, mtime: Date): Promise<void> {
    this.trim();
    const fd = this.replacing(path, (dirFd, name) => createFileAt(dirFd, name, 0o600));
    try {
      const buf = typeof content === 'string' ? Buffer.from(content) : content;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      if (this.chowns(path, owner)) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, mode);
      futimesSync(fd, mtime, mtime);
    } finally {
      closeSync(fd);
    }
  }

  /** A hard link at `path` to the file open as `fd` (a previous layer's copy of the same file). */
  linkFrom(path: string, fd: number): void {
    this.trim();
    this.replacing(path, (dirFd, name) => linkFdAt(fd, dirFd, name));
  }

  async writeSymlink(path: string, target: string, owner: Owner, mtime: Date | undefined): Promise<void> {
    this.trim();
    this.replacing(path, (dirFd, name) => symlinkAt(dirFd, name, target, owner.uid, owner.gid, mtime?.getTime()));
  }

  /** Restores directory mtimes, deepest first, and closes every fd. */
  async finish(): Promise<void> {
    // every queued file written (a failure to write one is the step's) before the directories' times are set
    if (this.session) {
      const s = this.session;
      this.session = undefined;
      await s.end();
      this.unpinWritten(true);
    }
    const dirs = [...this.dirTimes.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [d, t] of dirs) {
      try {
        const cached = this.dirs.get(d);
        this.upperRoot ??= openRoot(this.upper);
        const fd = cached ?? openIn(this.upperRoot, d, O.RDONLY | O.DIRECTORY, 'beneath');
        try {
          futimesSync(fd, t, t);
        } finally {
          if (cached === undefined) closeFd(fd);
        }
      } catch {
        /* replaced meanwhile */
      }
    }
    this.close();
  }

  /** Stops the writer thread's work for this writer (a failed step), before its directories go. */
  async abort(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.abort();
    // the thread has left the ring: nothing queued is written any more
    this.unpinWritten(true);
  }

  close(): void {
    for (const fd of this.dirs.values()) closeFd(fd);
    for (const fd of this.retired) closeFd(fd);
    this.dirs.clear();
    this.retired.clear();
    this.upperRoot?.close();
    this.viewRoot?.close();
    this.upperRoot = undefined;
    this.viewRoot = undefined;
  }
}

/** lstat of `path` inside `root`, through no symlink; undefined when it is not there (or behind a link). */
function statIn(root: RootDir, path: string): Stats | undefined {
  let fd: number;
  try {
    fd = openIn(root, path, O.PATH | O.NOFOLLOW, 'beneath');
  } catch {
    return undefined;
  }
  try {
    return fstatSync(fd);
  } finally {
    closeFd(fd);
  }
}

/** An O_PATH fd of `name` in `dirFd` (a symlink is not followed). */
function openAt(dirFd: number, name: string): number {
  return openIn({ fd: dirFd, path: '.', close: () => undefined }, name, O.PATH | O.NOFOLLOW, 'beneath');
}
