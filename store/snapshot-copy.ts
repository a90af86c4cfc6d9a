// Copies a snapshot tree (copy snapshots, issue 16): every entry with its mode, owner, times and xattrs, hard links
// inside the tree kept as hard links, file contents by the kernel (FICLONE reflink where the filesystem shares
// blocks, else copy_file_range: libuv's COPYFILE_FICLONE tries the one, then the other). The trees hold what
// untrusted layers and RUN steps made: every path is a directory fd (/proc/self/fd/N) plus one name, and no call
// follows a symlink at that name. Returns what each copied entry looked like once copied (SnapshotRecord), which
// the differ (snapshot-diff.ts) compares a RUN's tree against.
import * as fs from 'node:fs';
import { getXattr, listXattrs, mknod, S_IFBLK, S_IFCHR, S_IFIFO, setXattr, majorOf, minorOf } from './xattr.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
const O_CLOEXEC = 0o2000000;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
const AS_ROOT = process.getuid?.() === 0;

/** One entry as the copy left it: enough to tell later whether a RUN changed it (ctime cannot be set back). */
export interface RecordEntry {
  /** d f l c b p s */
  type: string;
  ino: bigint;
  /** Birth time (statx): an inode number freed and given to a new entry in the same step tells them apart. */
  btimeNs: bigint;
  ctimeNs: bigint;
  mtimeNs: bigint;
  nlink: bigint;
  mode: number;
  uid: number;
  gid: number;
  size: bigint;
}

/** rel path ('' is the root) → its entry. */
export type SnapshotRecord = Map<string, RecordEntry>;

export function typeOf(st: fs.BigIntStats | fs.Stats): string {
  if (st.isDirectory()) return 'd';
  if (st.isFile()) return 'f';
  if (st.isSymbolicLink()) return 'l';
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  if (st.isFIFO()) return 'p';
  return 's';
}

export function recordOf(st: fs.BigIntStats): RecordEntry {
  return {
    type: typeOf(st),
    ino: st.ino,
    btimeNs: st.birthtimeNs,
    ctimeNs: st.ctimeNs,
    mtimeNs: st.mtimeNs,
    nlink: st.nlink,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: st.size,
  };
}

export const fdPath = (fd: number): string => `/proc/self/fd/${fd}`;

/** Copies the xattrs of `src` onto `dst` (both paths whose last component is not followed). */
export function copyXattrs(src: string, dst: string): void {
  for (const n of listXattrs(src)) {
    const v = getXattr(src, n);
    if (v !== undefined) setXattr(dst, n, v);
  }
}

/** Sets owner (then mode: chown clears setuid/setgid) and times on a new entry, not following a symlink. */
export function setMeta(path: string, st: fs.BigIntStats, isLink: boolean): void {
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  if (uid !== 0 || gid !== 0 || !AS_ROOT) fs.lchownSync(path, uid, gid);
  if (!isLink) fs.chmodSync(path, Number(st.mode & 0o7777n));
  const at = nsDate(st.atimeNs);
  const mt = nsDate(st.mtimeNs);
  fs.lutimesSync(path, at, mt);
}

/** Seconds with the nanoseconds Node keeps (utimes takes fractional seconds). */
function nsDate(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}

/**
 * Makes the entry `name` in `dstDir` (a directory fd) like `srcPath` (stat `st`): a directory (empty: the caller
 * fills it), a file copied or linked to `linkTo`, a symlink, a device or a FIFO. Sockets are skipped (false).
 */
export function makeEntry(
  srcPath: string,
  st: fs.BigIntStats,
  dstDirFd: number,
  name: string,
  linkTo?: string,
): boolean {
  const dst = `${fdPath(dstDirFd)}/${name}`;
  if (st.isDirectory()) {
    fs.mkdirSync(dst, 0o700);
    return true;
  }
  if (st.isFile()) {
    if (linkTo !== undefined) {
      fs.linkSync(linkTo, dst);
      return true;
    }
    fs.copyFileSync(srcPath, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
  } else if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(srcPath), dst);
  } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const kind = st.isCharacterDevice() ? S_IFCHR : st.isBlockDevice() ? S_IFBLK : S_IFIFO;
    const rdev = Number(st.rdev);
    mknod(dst, kind | 0o600, majorOf(rdev), minorOf(rdev));
  } else return false;
  copyXattrs(srcPath, dst);
  setMeta(dst, st, st.isSymbolicLink());
  return true;
}

/**
 * Copies the tree `src` into the empty directory `dst` (which gets src's own metadata). Returns the record of the
 * copy; hard links among its files are kept.
 */
export async function copyTree(src: string, dst: string): Promise<SnapshotRecord> {
  const record: SnapshotRecord = new Map();
  await walkCopy(src, dst, { record, links: new Map(), dstRoot: '', grouped: [], share: false });
  return record;
}

/**
 * A new tree `dst` sharing `src`'s files: directories are made anew, regular files are hard links to src's inodes
 * (a copy where the inode has no room for another link). For snapshots only, which nothing changes in place: the
 * layer unpacker's apply mode replaces a file (unlink, create) and never writes into one.
 */
export async function shareTree(src: string, dst: string): Promise<void> {
  await walkCopy(src, dst, { links: new Map(), dstRoot: '', grouped: [], share: true });
}

async function walkCopy(src: string, dst: string, ctx: CopyCtx): Promise<void> {
  const srcRoot = fs.openSync(src, DIR_FLAGS);
  const dstRoot = fs.openSync(dst, DIR_FLAGS);
  try {
    // the destination is this process's own fresh tree: a first copy is found again by its path below dstRoot
    ctx.dstRoot = fdPath(dstRoot);
    await copyDir(srcRoot, dstRoot, '', ctx);
    // each link(2) changed its inode's ctime and link count: the group's records are taken again at the end
    const record = ctx.record;
    if (record) {
      for (const r of ctx.grouped) record.set(r, recordOf(fs.lstatSync(`${ctx.dstRoot}/${r}`, { bigint: true })));
    }
    // the roots are the store's own directories: named by path (a /proc/self/fd link as the last component would
    // be the link itself to the l* calls)
    const st = fs.fstatSync(srcRoot, { bigint: true });
    copyXattrs(src, dst);
    setMeta(dst, st, false);
    record?.set('', recordOf(fs.fstatSync(dstRoot, { bigint: true })));
  } finally {
    fs.closeSync(srcRoot);
    fs.closeSync(dstRoot);
  }
}

interface CopyCtx {
  /** Filled when the copy is a RUN's scratch: what the differ compares with. */
  record?: SnapshotRecord;
  /** source inode → rel path of its first copy */
  links: Map<bigint, string>;
  dstRoot: string;
  /** rel paths of files in hard-link groups */
  grouped: string[];
  /** Regular files linked, not copied (shareTree). */
  share: boolean;
}

/** Regular files copied at once on libuv's pool per directory (small files: the syscalls, not the bytes, cost). */
const PARALLEL_COPIES = 8;

async function copyDir(srcFd: number, dstFd: number, rel: string, ctx: CopyCtx): Promise<void> {
  const srcDir = fdPath(srcFd);
  const dstDir = fdPath(dstFd);
  // file copies of this directory run on the thread pool, a few at a time; all end before its fds close
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  for (const name of fs.readdirSync(srcDir)) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const srcPath = `${srcDir}/${name}`;
    const st = fs.lstatSync(srcPath, { bigint: true });
    if (st.isDirectory()) {
      fs.mkdirSync(`${dstDir}/${name}`, 0o700);
      const s = fs.openSync(srcPath, DIR_FLAGS);
      const d = fs.openSync(`${dstDir}/${name}`, DIR_FLAGS);
      try {
        await copyDir(s, d, r, ctx);
        // after the children: their creation changed the directory's times
        copyXattrs(srcPath, `${dstDir}/${name}`);
        setMeta(`${dstDir}/${name}`, st, false);
        ctx.record?.set(r, recordOf(fs.fstatSync(d, { bigint: true })));
      } finally {
        fs.closeSync(s);
        fs.closeSync(d);
      }
      continue;
    }
    if (ctx.share && st.isFile()) {
      try {
        fs.linkSync(srcPath, `${dstDir}/${name}`);
        continue;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EMLINK') throw e;
      }
    }
    const grouped = st.isFile() && st.nlink > 1n;
    const first = grouped ? ctx.links.get(st.ino) : undefined;
    const done = (): void => {
      if (!ctx.record) return;
      if (grouped) ctx.grouped.push(r);
      ctx.record.set(r, recordOf(fs.lstatSync(`${dstDir}/${name}`, { bigint: true })));
    };
    if (st.isFile() && first === undefined) {
      if (grouped) ctx.links.set(st.ino, r);
      // a later link to this file waits for its copy: the group's first copy is made here, synchronously
      if (grouped) {
        makeEntry(srcPath, st, dstFd, name);
        done();
        continue;
      }
      if (inFlight.size >= PARALLEL_COPIES) await Promise.race(inFlight);
      const job = copyFileAsync(srcPath, st, dstDir, name).then(done, (e: unknown) => void failures.push(e));
      inFlight.add(job);
      void job.finally(() => inFlight.delete(job));
      continue;
    }
    if (!makeEntry(srcPath, st, dstFd, name, first !== undefined ? `${ctx.dstRoot}/${first}` : undefined)) continue;
    done();
  }
  await Promise.all(inFlight);
  if (failures.length > 0) throw failures[0];
}

/** makeEntry for a regular file, its bytes copied on the thread pool. */
async function copyFileAsync(srcPath: string, st: fs.BigIntStats, dstDir: string, name: string): Promise<void> {
  const dst = `${dstDir}/${name}`;
  await fs.promises.copyFile(srcPath, dst, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
  copyXattrs(srcPath, dst);
  setMeta(dst, st, false);
}
