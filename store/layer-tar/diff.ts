// Overlay upperdir → OCI layer tar, as a byte stream pulled on demand (Readable.from an async generator: the
// consumer's pace drives the walk, so nothing piles up). Entries are sorted (depth-first, names in byte order),
// whiteout devices become `.wh.NAME`, opaque directories get a `.wh..wh..opq` entry, hardlinks within the layer
// become tar hardlinks, xattrs go into PAX records, and mtimes can be clamped to SOURCE_DATE_EPOCH.
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { listXattrs, getXattr, majorOf, minorOf } from '../xattr.js';
import { BLOCK, encodeHeader, END_OF_ARCHIVE, paddingFor, type EntryType } from './tar-header.js';
import { isOpaqueValue, isOverlayXattr, isWhiteoutDevice, OPAQUE_MARKER, OPAQUE_XATTRS, tarWhiteoutName, WHITEOUT_XATTRS } from './whiteouts.js';

export interface DiffOptions {
  /** Clamp mtimes to this many seconds since the epoch. */
  sourceDateEpoch?: number;
  /** `overlay` (default): the directory is an upperdir (whiteouts/opaque translated). `plain`: a root filesystem. */
  source?: 'overlay' | 'plain';
  /** Called once per entry written (path without trailing slash, entry type, content size). */
  onEntry?: (path: string, type: EntryType, size: number) => void;
  /** Called with every walked path's lstat (and symlink target), e.g. to record the tree. */
  onStat?: (path: string, st: fs.Stats, linkTarget: string) => void;
}

export interface DiffStats {
  entries: number;
}

/** Files up to this size are read in one call; larger ones are streamed. */
const SMALL_FILE = 1 << 20;
const BATCH = 1 << 20;

function sortNames(names: string[]): string[] {
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function needsByteSort(names: string[]): boolean {
  for (const n of names) for (let i = 0; i < n.length; i++) if (n.charCodeAt(i) > 0x7f) return true;
  return false;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const O_NOATIME = fs.constants.O_NOATIME ?? 0;
const OPEN_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOATIME;

async function* generate(root: string, opts: DiffOptions, stats: DiffStats): AsyncGenerator<Buffer> {
  const overlay = (opts.source ?? 'overlay') === 'overlay';
  const clamp = opts.sourceDateEpoch;
  const links = new Map<string, string>();
  // Output is gathered in a batch buffer (headers and small file bodies read straight into it) and handed on
  // in ~1 MiB pieces; a fresh batch is allocated after each hand-off, so nothing handed on is ever overwritten.
  let batch = Buffer.allocUnsafe(BATCH);
  let off = 0;
  const room = (n: number): Buffer | undefined => {
    if (off + n <= batch.length) return undefined;
    const out = batch.subarray(0, off);
    batch = Buffer.allocUnsafe(Math.max(BATCH, n));
    off = 0;
    return out.length > 0 ? out : undefined;
  };
  const put = (b: Buffer): void => {
    b.copy(batch, off);
    off += b.length;
  };
  const mtimeOf = (st: fs.Stats): number => {
    const t = Math.floor(st.mtimeMs / 1000);
    return clamp !== undefined && t > clamp ? clamp : t;
  };
  const xattrsOf = (abs: string, fd?: number): { list: [string, Buffer][]; opaque: boolean; whiteout: boolean } => {
    const names = listXattrs(abs, fd);
    if (names.length === 0) return { list: [], opaque: false, whiteout: false };
    let opaque = false;
    let whiteout = false;
    const list: [string, Buffer][] = [];
    for (const n of names.sort()) {
      if (isOverlayXattr(n)) {
        if (overlay && (OPAQUE_XATTRS as readonly string[]).includes(n) && isOpaqueValue(getXattr(abs, n))) opaque = true;
        if (overlay && (WHITEOUT_XATTRS as readonly string[]).includes(n)) whiteout = true;
        continue;
      }
      const v = getXattr(abs, n);
      if (v !== undefined) list.push([n, v]);
    }
    return { list, opaque, whiteout };
  };

  // An explicit stack of directory iterators instead of recursion: depth-first, names in byte order.
  const walkDir = function* (rel: string, abs: string): Generator<[string, string, string, boolean]> {
    const ents = fs.readdirSync(abs, { withFileTypes: true });
    const byName = new Map<string, boolean>();
    for (const e of ents) byName.set(e.name, e.isFile());
    let names = [...byName.keys()];
    names = needsByteSort(names) ? sortNames(names) : names.sort();
    for (const n of names) yield [rel === '' ? n : `${rel}/${n}`, `${abs}/${n}`, n, byName.get(n)!];
  };
  const stack: Generator<[string, string, string, boolean]>[] = [walkDir('', root)];
  while (stack.length > 0) {
    const it = stack[stack.length - 1]!.next();
    if (it.done) {
      stack.pop();
      continue;
    }
    const [rel, abs, base, looksFile] = it.value;
    // Regular files are opened first and fstat'ed through the fd: one path lookup instead of three.
    let fd: number | undefined;
    if (looksFile) {
      try {
        fd = fs.openSync(abs, OPEN_FLAGS);
      } catch {
        fd = undefined;
      }
    }
    try {
      const st = fd !== undefined ? fs.fstatSync(fd) : fs.lstatSync(abs);
      if (fd !== undefined && !st.isFile()) {
        fs.closeSync(fd);
        fd = undefined;
      }
      const linkTarget = st.isSymbolicLink() ? fs.readlinkSync(abs) : '';
      opts.onStat?.(rel, st, linkTarget);
      const x = xattrsOf(abs, fd);
      const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: mtimeOf(st), xattrs: x.list };
      let header: Buffer | undefined;
      let type: EntryType | undefined;
      let body = 0;
      if (overlay && (isWhiteoutDevice(st.isCharacterDevice(), st.rdev) || (x.whiteout && st.isFile() && st.size === 0))) {
        const dir = rel.slice(0, rel.length - base.length);
        header = encodeHeader({ name: dir + tarWhiteoutName(base), type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: common.mtime });
        type = 'file';
      } else if (st.isDirectory()) {
        header = encodeHeader({ ...common, name: `${rel}/`, type: 'dir', size: 0 });
        if (x.opaque) {
          header = Buffer.concat([header, encodeHeader({ name: `${rel}/${OPAQUE_MARKER}`, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: common.mtime })]);
          stats.entries++;
        }
        type = 'dir';
        stack.push(walkDir(rel, abs));
      } else if (st.isFile()) {
        const key = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
        const first = key !== undefined ? links.get(key) : undefined;
        if (first !== undefined) {
          header = encodeHeader({ ...common, name: rel, type: 'link', size: 0, linkname: first });
          type = 'link';
        } else {
          if (key !== undefined) links.set(key, rel);
          body = st.size;
          header = encodeHeader({ ...common, name: rel, type: 'file', size: body });
          type = 'file';
        }
      } else if (st.isSymbolicLink()) {
        header = encodeHeader({ ...common, name: rel, type: 'symlink', size: 0, linkname: linkTarget });
        type = 'symlink';
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        type = st.isCharacterDevice() ? 'char' : 'block';
        header = encodeHeader({ ...common, name: rel, type, size: 0, devmajor: majorOf(st.rdev), devminor: minorOf(st.rdev) });
      } else if (st.isFIFO()) {
        header = encodeHeader({ ...common, name: rel, type: 'fifo', size: 0 });
        type = 'fifo';
      }
      // sockets are not carried by tar layers (Docker skips them too)
      if (!header || !type) continue;
      stats.entries++;
      opts.onEntry?.(rel, type, body);
      const pad = (BLOCK - (body % BLOCK)) % BLOCK;
      if (body === 0 || body > SMALL_FILE) {
        const full = room(header.length);
        if (full) yield full;
        put(header);
      }
      if (body > 0 && body <= SMALL_FILE) {
        const full = room(header.length + body + pad);
        if (full) yield full;
        put(header);
        const h = fd ?? fs.openSync(abs, OPEN_FLAGS);
        try {
          let got = 0;
          while (got < body) {
            const n = fs.readSync(h, batch, off + got, body - got, got);
            if (n === 0) break;
            got += n;
          }
          // a file that shrank while we read it is padded to the size its header promised
          batch.fill(0, off + got, off + body + pad);
          off += body + pad;
        } finally {
          if (fd === undefined) fs.closeSync(h);
        }
      } else if (body > SMALL_FILE) {
        if (off > 0) {
          yield batch.subarray(0, off);
          batch = Buffer.allocUnsafe(BATCH);
          off = 0;
        }
        let sent = 0;
        const rs = fs.createReadStream(abs, { highWaterMark: BATCH, end: body - 1 });
        for await (const chunk of rs as AsyncIterable<Buffer>) {
          sent += chunk.length;
          yield chunk;
        }
        if (sent < body) yield Buffer.alloc(body - sent);
        put(paddingFor(body));
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  const full = room(END_OF_ARCHIVE.length);
  if (full) yield full;
  put(END_OF_ARCHIVE);
  yield batch.subarray(0, off);
}

/** The layer tar of `dir` as a stream. `stats` fills in as it is read. */
export function diffDir(dir: string, opts: DiffOptions = {}, stats: DiffStats = { entries: 0 }): Readable {
  return Readable.from(generate(dir, opts, stats), { objectMode: false, highWaterMark: BATCH });
}
