// Overlay upperdir → OCI layer tar, as a byte stream pulled on demand (Readable.from an async generator: the
// consumer's pace drives the walk, so nothing piles up). Entries are sorted (depth-first, names in byte order),
// whiteout devices become `.wh.NAME`, opaque directories get a `.wh..wh..opq` entry, hardlinks within the layer
// become tar hardlinks, xattrs go into PAX records, and mtimes can be clamped to SOURCE_DATE_EPOCH.
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { listXattrs, getXattr, majorOf, minorOf } from '../xattr.js';
import { encodeHeader, END_OF_ARCHIVE, paddingFor, type EntryType, type TarEntryHeader } from './tar-header.js';
import { isOpaqueValue, isOverlayXattr, isWhiteoutDevice, OPAQUE_MARKER, OPAQUE_XATTRS, tarWhiteoutName, WHITEOUT_XATTRS } from './whiteouts.js';

export interface DiffOptions {
  /** Clamp mtimes to this many seconds since the epoch. */
  sourceDateEpoch?: number;
  /** `overlay` (default): the directory is an upperdir (whiteouts/opaque translated). `plain`: a root filesystem. */
  source?: 'overlay' | 'plain';
  /** Called once per entry written (path without trailing slash, entry type, content size). */
  onEntry?: (path: string, type: EntryType, size: number) => void;
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

async function* generate(root: string, opts: DiffOptions, stats: DiffStats): AsyncGenerator<Buffer> {
  const overlay = (opts.source ?? 'overlay') === 'overlay';
  const clamp = opts.sourceDateEpoch;
  const links = new Map<string, string>();
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const push = (b: Buffer): void => {
    pending.push(b);
    pendingLen += b.length;
  };
  const take = (): Buffer => {
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    return out;
  };
  const mtimeOf = (st: fs.Stats): number => {
    const t = Math.floor(st.mtimeMs / 1000);
    return clamp !== undefined && t > clamp ? clamp : t;
  };
  const xattrsOf = (abs: string): { list: [string, Buffer][]; opaque: boolean; whiteout: boolean } => {
    const names = listXattrs(abs);
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

  // An explicit stack instead of recursion: [relative dir, absolute dir].
  const walkDir = function* (rel: string, abs: string): Generator<[string, string, string]> {
    let names = fs.readdirSync(abs);
    names = needsByteSort(names) ? sortNames(names) : names.sort();
    for (const n of names) yield [rel === '' ? n : `${rel}/${n}`, `${abs}/${n}`, n];
  };
  const stack: Generator<[string, string, string]>[] = [walkDir('', root)];
  while (stack.length > 0) {
    const it = stack[stack.length - 1]!.next();
    if (it.done) {
      stack.pop();
      continue;
    }
    const [rel, abs, base] = it.value;
    const st = fs.lstatSync(abs);
    const x = xattrsOf(abs);
    const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: mtimeOf(st), xattrs: x.list };
    let h: TarEntryHeader | undefined;
    if (overlay && (isWhiteoutDevice(st.isCharacterDevice(), st.rdev) || (x.whiteout && st.isFile() && st.size === 0))) {
      const dir = rel.slice(0, rel.length - base.length);
      h = { name: dir + tarWhiteoutName(base), type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: common.mtime };
      push(encodeHeader(h));
      opts.onEntry?.(rel, 'file', 0);
      stats.entries++;
    } else if (st.isDirectory()) {
      push(encodeHeader({ ...common, name: `${rel}/`, type: 'dir', size: 0 }));
      opts.onEntry?.(rel, 'dir', 0);
      stats.entries++;
      if (x.opaque) {
        push(encodeHeader({ name: `${rel}/${OPAQUE_MARKER}`, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: common.mtime }));
        stats.entries++;
      }
      stack.push(walkDir(rel, abs));
    } else if (st.isFile()) {
      const key = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
      const first = key !== undefined ? links.get(key) : undefined;
      if (first !== undefined) {
        push(encodeHeader({ ...common, name: rel, type: 'link', size: 0, linkname: first }));
        opts.onEntry?.(rel, 'link', 0);
        stats.entries++;
      } else {
        if (key !== undefined) links.set(key, rel);
        const size = st.size;
        push(encodeHeader({ ...common, name: rel, type: 'file', size }));
        opts.onEntry?.(rel, 'file', size);
        stats.entries++;
        if (size <= SMALL_FILE) {
          const fd = fs.openSync(abs, 'r');
          try {
            const body = Buffer.allocUnsafe(size);
            let off = 0;
            while (off < size) {
              const n = fs.readSync(fd, body, off, size - off, off);
              if (n === 0) break;
              off += n;
            }
            if (off < size) body.fill(0, off);
            push(body);
          } finally {
            fs.closeSync(fd);
          }
          push(paddingFor(size));
        } else {
          if (pendingLen > 0) yield take();
          let sent = 0;
          const rs = fs.createReadStream(abs, { highWaterMark: BATCH, end: size - 1 });
          for await (const chunk of rs as AsyncIterable<Buffer>) {
            sent += chunk.length;
            yield chunk;
          }
          // a file that shrank while we read it is padded to the size its header promised
          if (sent < size) yield Buffer.alloc(size - sent);
          push(paddingFor(size));
        }
      }
    } else if (st.isSymbolicLink()) {
      push(encodeHeader({ ...common, name: rel, type: 'symlink', size: 0, linkname: fs.readlinkSync(abs) }));
      opts.onEntry?.(rel, 'symlink', 0);
      stats.entries++;
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const type: EntryType = st.isCharacterDevice() ? 'char' : 'block';
      push(encodeHeader({ ...common, name: rel, type, size: 0, devmajor: majorOf(st.rdev), devminor: minorOf(st.rdev) }));
      opts.onEntry?.(rel, type, 0);
      stats.entries++;
    } else if (st.isFIFO()) {
      push(encodeHeader({ ...common, name: rel, type: 'fifo', size: 0 }));
      opts.onEntry?.(rel, 'fifo', 0);
      stats.entries++;
    }
    // sockets are not carried by tar layers (Docker skips them too)
    if (pendingLen >= BATCH) yield take();
  }
  push(END_OF_ARCHIVE);
  yield take();
}

/** The layer tar of `dir` as a stream. `stats` fills in as it is read. */
export function diffDir(dir: string, opts: DiffOptions = {}, stats: DiffStats = { entries: 0 }): Readable {
  return Readable.from(generate(dir, opts, stats), { objectMode: false, highWaterMark: BATCH });
}
