// A RUN's changes in copy-snapshot mode (issue 16): its scratch tree (a copy of the parent snapshot the command
// changed) compared with the record taken when the copy was made (snapshot-copy.ts), written as an overlay upperdir
// so that the layer is committed by the same differ as an overlay RUN's (layer-tar/diff.ts), with the same digest:
//  - new or changed entries, with every parent directory (overlay copies the parents up): a file is changed when its
//    ctime moved (which nothing can set back), unless only its link count did (a link to it was made or removed
//    elsewhere); a directory when its mode, owner or mtime differ, or its ctime moved;
//  - an entry recorded but gone, under a directory still the same inode: a whiteout (a 0/0 character device, which
//    needs no CAP_MKNOD);
//  - a directory made where something else was recorded: opaque (overlay makes a directory created over a whiteout
//    opaque), and everything below it new;
//  - a new name for an inode recorded elsewhere (`ln old new`): the old names come along, as overlay copies up the
//    link's source, so the layer keeps them one inode.
// The scratch is untrusted (the command wrote it): it is walked by directory fds, no symlink followed. The upperdir's
// files are hard links to the scratch's (both are read-only from here on: the scratch becomes the next snapshot, the
// upperdir the layer's directory), so committing costs no copy.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { copyXattrs, fdPath, makeEntry, recordOf, setMeta, typeOf, type SnapshotRecord } from './snapshot-copy.js';
import { mknod, NativeError, S_IFCHR, setXattr } from './xattr.js';
import { OPAQUE_XATTRS } from './layer-tar/whiteouts.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
const O_CLOEXEC = 0o2000000;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

export interface ScratchDiffOptions {
  /** Paths the runtime placed for the run (/etc/hosts, /dev nodes, secrets): never part of the layer. */
  placed?: ReadonlySet<string>;
  /** Directories whose times the runtime set back after removing what it placed: compared without their ctime. */
  restored?: ReadonlySet<string>;
}

export interface ScratchDiffStats {
  /** Entries written into the upperdir (whiteouts included, parents not). */
  changes: number;
}

/** Writes the changes of `scratch` since `record` into the empty directory `upperdir`, in overlay's format. */
export function diffScratch(
  scratch: string,
  record: SnapshotRecord,
  upperdir: string,
  opts: ScratchDiffOptions = {},
): ScratchDiffStats {
  const d = new ScratchDiff(record, opts, scratch, upperdir);
  const rootFd = fs.openSync(scratch, DIR_FLAGS);
  const upperFd = fs.openSync(upperdir, DIR_FLAGS);
  try {
    d.run(rootFd, upperFd);
  } finally {
    fs.closeSync(rootFd);
    fs.closeSync(upperFd);
  }
  return { changes: d.changes };
}

class ScratchDiff {
  changes = 0;
  private readonly placed: ReadonlySet<string>;
  private readonly restored: ReadonlySet<string>;
  /** Scratch paths seen in the walk. */
  private readonly seen = new Set<string>();
  /** Directories that are still the recorded inode: whiteouts are written only below them. */
  private readonly sameDirs = new Set<string>(['']);
  /** Upperdir directories made, with the scratch's stat to give them at the end (deepest last). */
  private readonly upperDirs = new Map<string, fs.BigIntStats>();
  /** Scratch directories on the current walk path → their stat (for parents made in the upperdir). */
  private readonly walkStats = new Map<string, fs.BigIntStats>();
  /** Inode → upper path of its first file in the upperdir. */
  private readonly upperLinks = new Map<bigint, string>();
  /** Inodes of new names of a recorded inode: their recorded names come along. */
  private readonly relinked = new Set<bigint>();
  private readonly opaque = new Set<string>();
  private upper = '';

  constructor(
    private readonly record: SnapshotRecord,
    opts: ScratchDiffOptions,
    /** The roots by path (the store's own directories): below them, every path goes through a directory fd. */
    private readonly scratchRoot: string,
    private readonly upperRoot: string,
  ) {
    this.placed = opts.placed ?? new Set();
    this.restored = opts.restored ?? new Set();
  }

  run(rootFd: number, upperFd: number): void {
    this.upper = fdPath(upperFd);
    this.walkStats.set('', fs.fstatSync(rootFd, { bigint: true }));
    const rootRec = this.record.get('');
    const rootSt = this.walkStats.get('')!;
    if (rootRec && this.dirChanged(rootRec, rootSt, '')) this.upperDirs.set('', rootSt);
    this.walk(rootFd, '', true);
    this.linkPartners();
    this.whiteouts();
    this.finishDirs();
  }

  private walk(dirFd: number, rel: string, same: boolean): void {
    const dir = fdPath(dirFd);
    for (const name of fs.readdirSync(dir)) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (this.placed.has(r)) continue;
      this.seen.add(r);
      const path = `${dir}/${name}`;
      const st = fs.lstatSync(path, { bigint: true });
      const rec = same ? this.record.get(r) : undefined;
      const isNew =
        rec === undefined || rec.type !== typeOf(st) || rec.ino !== st.ino || rec.btimeNs !== st.birthtimeNs;
      if (st.isDirectory()) {
        if (isNew) {
          this.emitDir(r, st);
          // made where the parent had something else: overlay's mkdir over a whiteout makes it opaque
          if (rec !== undefined) this.opaque.add(r);
        } else if (this.dirChanged(rec, st, r)) this.emitDir(r, st);
        const fd = fs.openSync(path, DIR_FLAGS);
        this.walkStats.set(r, st);
        if (!isNew) this.sameDirs.add(r);
        try {
          this.walk(fd, r, !isNew);
        } finally {
          this.walkStats.delete(r);
          fs.closeSync(fd);
        }
        continue;
      }
      if (!isNew && !fileChanged(rec, st)) continue;
      if (isNew && st.isFile() && st.nlink > 1n) this.relinked.add(st.ino);
      this.emitEntry(r, path, st, dirFd, name);
    }
  }

  private dirChanged(rec: NonNullable<ReturnType<SnapshotRecord['get']>>, st: fs.BigIntStats, r: string): boolean {
    const now = recordOf(st);
    if (now.mode !== rec.mode || now.uid !== rec.uid || now.gid !== rec.gid || now.mtimeNs !== rec.mtimeNs) return true;
    if (this.restored.has(r)) return false;
    return now.ctimeNs !== rec.ctimeNs;
  }

  /** Makes the upperdir directories of `rel`'s parents, as the scratch has them (set at the end). */
  private parents(rel: string): void {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur === '' ? parts[i]! : `${cur}/${parts[i]}`;
      if (this.upperDirs.has(cur)) continue;
      fs.mkdirSync(`${this.upper}/${cur}`, 0o700);
      this.upperDirs.set(cur, this.walkStats.get(cur) ?? this.statScratch(cur)!);
    }
  }

  private emitDir(rel: string, st: fs.BigIntStats): void {
    this.parents(rel);
    if (!this.upperDirs.has(rel)) fs.mkdirSync(`${this.upper}/${rel}`, 0o700);
    this.upperDirs.set(rel, st);
    this.changes++;
  }

  private emitEntry(rel: string, path: string, st: fs.BigIntStats, dirFd: number, name: string): void {
    this.parents(rel);
    const upperParent = fs.openSync(`${this.upper}/${posix.dirname(rel) === '.' ? '' : posix.dirname(rel)}`, DIR_FLAGS);
    try {
      if (st.isFile()) {
        const first = this.upperLinks.get(st.ino);
        const dst = `${fdPath(upperParent)}/${name}`;
        if (first !== undefined) fs.linkSync(`${this.upper}/${first}`, dst);
        else {
          try {
            // the scratch's inode itself (see the header): its data, owner, mode, times and xattrs come with it
            fs.linkSync(`${fdPath(dirFd)}/${name}`, dst);
          } catch {
            makeEntry(path, st, upperParent, name);
          }
          this.upperLinks.set(st.ino, rel);
        }
      } else makeEntry(path, st, upperParent, name);
    } finally {
      fs.closeSync(upperParent);
    }
    this.changes++;
  }

  /** The recorded names of inodes that got a new name come along (overlay copies up the link's source). */
  private linkPartners(): void {
    if (this.relinked.size === 0) return;
    for (const [rel, rec] of this.record) {
      if (rec.type !== 'f' || !this.relinked.has(rec.ino)) continue;
      const first = this.upperLinks.get(rec.ino);
      if (first === undefined || first === rel || this.isInUpper(rel)) continue;
      const st = this.statScratch(rel);
      if (!st || st.ino !== rec.ino) continue;
      this.parents(rel);
      fs.linkSync(`${this.upper}/${first}`, `${this.upper}/${rel}`);
      this.changes++;
    }
  }

  private isInUpper(rel: string): boolean {
    try {
      fs.lstatSync(`${this.upper}/${rel}`);
      return true;
    } catch {
      return false;
    }
  }

  /** Recorded entries gone from a directory that is still the same one: whiteouts. */
  private whiteouts(): void {
    for (const rel of this.record.keys()) {
      if (rel === '' || this.seen.has(rel) || this.placed.has(rel)) continue;
      const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
      if (!this.sameDirs.has(parent)) continue;
      this.parents(rel);
      mknod(`${this.upper}/${rel}`, S_IFCHR | 0o600, 0, 0);
      this.changes++;
    }
  }

  /** Directory metadata last, deepest first (making children changed their times). */
  private finishDirs(): void {
    const dirs = [...this.upperDirs.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [rel, st] of dirs) {
      const p = rel === '' ? this.upperRoot : `${this.upper}/${rel}`;
      const parent = this.scratchDirPath(rel === '' ? '' : posix.dirname(rel) === '.' ? '' : posix.dirname(rel));
      if (parent) {
        try {
          copyXattrs(rel === '' ? this.scratchRoot : `${parent.path}/${posix.basename(rel)}`, p);
        } finally {
          parent.close();
        }
      }
      if (this.opaque.has(rel)) setOpaque(p);
      setMeta(p, st, false);
    }
  }

  /** lstat of a scratch path, walking its directories by fd with no symlink followed; undefined if gone. */
  private statScratch(rel: string): fs.BigIntStats | undefined {
    const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    const d = this.scratchDirPath(parent);
    if (!d) return undefined;
    try {
      return fs.lstatSync(`${d.path}/${posix.basename(rel)}`, { bigint: true });
    } catch {
      return undefined;
    } finally {
    }
  }

  /** A /proc/self/fd path of the scratch directory `rel`, opened component by component (no symlink followed). */
  private scratchDirPath(rel: string): { path: string; close(): void } | undefined {
    let fd = fs.openSync(this.scratchRoot, DIR_FLAGS);
    if (rel !== '') {
      for (const part of rel.split('/')) {
        let next: number;
        try {
          next = fs.openSync(`${fdPath(fd)}/${part}`, DIR_FLAGS);
        } catch {
          fs.closeSync(fd);
          return undefined;
        }
        fs.closeSync(fd);
        fd = next;
      }
    }
    const held = fd;
    return { path: fdPath(held), close: () => fs.closeSync(held) };
  }
}

function fileChanged(rec: NonNullable<ReturnType<SnapshotRecord['get']>>, st: fs.BigIntStats): boolean {
  const now = recordOf(st);
  if (now.ctimeNs === rec.ctimeNs) return false;
  const sameMeta =
    now.mode === rec.mode &&
    now.uid === rec.uid &&
    now.gid === rec.gid &&
    now.size === rec.size &&
    now.mtimeNs === rec.mtimeNs;
  // only the link count moved: `ln` or `rm` of another name of this inode
  return !(sameMeta && now.nlink !== rec.nlink);
}

/** The opaque mark: overlay's trusted xattr when this process may set it, else the user.* form (unprivileged). */
function setOpaque(path: string): void {
  try {
    setXattr(path, OPAQUE_XATTRS[0], Buffer.from('y'));
  } catch (e) {
    if (!(e instanceof NativeError && e.code === 'EPERM')) throw e;
    setXattr(path, OPAQUE_XATTRS[1], Buffer.from('y'));
  }
}
