// Overlay upperdir → OCI layer tar, as a byte stream pulled on demand (Readable.from an async generator: the
// consumer's pace drives the walk, so nothing piles up). Entries are sorted (depth-first, names in byte order),
// whiteout devices become `.wh.NAME`, opaque directories get a `.wh..wh..opq` entry, hardlinks within the layer
// become tar hardlinks, xattrs go into PAX records, and mtimes can be clamped to SOURCE_DATE_EPOCH.
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { LayerError } from '../errors.js';
import { listXattrs, getXattr, majorOf, minorOf } from '../xattr.js';
import type { FileBody } from './file-body.js';
import { PREMADE_INLINE_MAX, premadeKey, PremadeTarReader, tarMtime, type PremadeTar } from './premade.js';
import {
  BLOCK,
  encodeHeader,
  encodeSimpleHeaderInto,
  END_OF_ARCHIVE,
  headerBlocks,
  paddingFor,
  type EntryType,
  type TarEntryHeader,
} from './tar-header.js';
import {
  isOpaqueValue,
  isOverlayXattr,
  isWhiteoutDevice,
  OPAQUE_MARKER,
  OPAQUE_XATTRS,
  tarWhiteoutName,
  WHITEOUT_XATTRS,
} from './whiteouts.js';

export interface DiffOptions {
  /** Clamp mtimes to this many seconds since the epoch. */
  sourceDateEpoch?: number;
  /** `overlay` (default): the directory is an upperdir (whiteouts/opaque translated). `plain`: a root filesystem. */
  source?: 'overlay' | 'plain';
  /** Called once per entry written (path without trailing slash, entry type, content size). */
  onEntry?: (path: string, type: EntryType, size: number) => void;
  /** Internal: hand out reused buffers (see diffChunks). */
  reuseBuffers?: boolean;
  /** Internal: hand large bodies out as FileBody (see diffChunks). */
  handOffLargeFiles?: boolean;
  /** Called with every walked path's lstat (and symlink target), e.g. to record the tree. */
  onStat?: (path: string, st: fs.Stats, linkTarget: string) => void;
  /**
   * The tar a COPY made of a subtree as it wrote it (premade.ts): that subtree is walked with lstat alone, each
   * entry checked against its record, and the tar's bytes handed on as FileBody spans. Throws PremadeMismatch when
   * they differ.
   */
  premade?: PremadeTar;
}

export type { FileBody } from './file-body.js';

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

const SIMPLE = Buffer.alloc(0);

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const O_NOATIME = fs.constants.O_NOATIME ?? 0;
const OPEN_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOATIME;

async function* generate(root: string, opts: DiffOptions, stats: DiffStats): AsyncGenerator<Buffer | FileBody> {
  const pre = opts.premade ? new PremadeTarReader(opts.premade) : undefined;
  try {
    if (pre && pre.tar.sourceDateEpoch !== opts.sourceDateEpoch) pre.mismatch('made with another SOURCE_DATE_EPOCH');
    yield* walk(root, opts, stats, pre);
    pre?.done();
  } finally {
    pre?.close();
  }
}

async function* walk(
  root: string,
  opts: DiffOptions,
  stats: DiffStats,
  pre: PremadeTarReader | undefined,
): AsyncGenerator<Buffer | FileBody> {
  const overlay = (opts.source ?? 'overlay') === 'overlay';
  const clamp = opts.sourceDateEpoch;
  const links = new Map<string, string>();
  // Output is gathered in a batch buffer (headers and small file bodies read straight into it) and handed on
  // in ~1 MiB pieces. With `reuse`, the same buffers are refilled after each hand-off (the consumer must be done
  // with a chunk before it asks for the next); otherwise a fresh batch is allocated each time.
  const reuse = opts.reuseBuffers === true;
  const spare: Buffer[] = [];
  const fresh = (n: number): Buffer =>
    reuse && n <= BATCH && spare.length > 0 ? spare.pop()! : Buffer.allocUnsafe(Math.max(BATCH, n));
  let batch = fresh(BATCH);
  let off = 0;
  let handed: Buffer | undefined;
  const handOff = (): Buffer => {
    const out = batch.subarray(0, off);
    if (reuse && handed && handed.length === BATCH) spare.push(handed);
    handed = batch;
    return out;
  };
  const room = (n: number): Buffer | undefined => {
    if (off + n <= batch.length) return undefined;
    const out = off > 0 ? handOff() : undefined;
    batch = fresh(n);
    off = 0;
    return out;
  };
  /** What the batch holds, handed on before something that goes after it (a file's body, a premade span). */
  const flush = (): Buffer | undefined => {
    if (off === 0) return undefined;
    const out = handOff();
    batch = fresh(BATCH);
    off = 0;
    return out;
  };
  /** The premade tar's checked bytes not yet handed on, after what the batch holds. */
  const premadeSpan = function* (): Generator<Buffer | FileBody> {
    const held = flush();
    if (held) yield held;
    yield pre!.span();
  };
  const put = (b: Buffer): void => {
    b.copy(batch, off);
    off += b.length;
  };
  const mtimeOf = (st: fs.Stats): number => tarMtime(st.mtimeMs, clamp);
  const xattrsOf = (abs: string, fd?: number): { list: [string, Buffer][]; opaque: boolean; whiteout: boolean } => {
    const names = listXattrs(abs, fd);
    if (names.length === 0) return { list: [], opaque: false, whiteout: false };
    let opaque = false;
    let whiteout = false;
    const list: [string, Buffer][] = [];
    for (const n of names.sort()) {
      if (overlay && /^(trusted|user)\.overlay\.(redirect|metacopy)$/.test(n)) {
        // a renamed directory or a metadata-only copy-up: the upperdir alone does not hold the content
        throw new LayerError(
          `${abs} carries ${n}: mount the overlay with redirect_dir=off,metacopy=off to commit it as a layer`,
          { path: abs },
        );
      }
      if (isOverlayXattr(n)) {
        if (overlay && (OPAQUE_XATTRS as readonly string[]).includes(n) && isOpaqueValue(getXattr(abs, n)))
          opaque = true;
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
    const premade = pre !== undefined && pre.holds(rel);
    // Regular files are opened first and fstat'ed through the fd: one path lookup instead of three. A premade
    // entry's is not opened at all (its body, when small, comes from the premade tar).
    let fd: number | undefined;
    if (looksFile && !premade) {
      try {
        fd = fs.openSync(abs, OPEN_FLAGS);
      } catch {
        fd = undefined;
      }
    }
    try {
      // the subtree ended: its last checked span goes before this entry
      if (pre && pre.pending > 0 && !premade) yield* premadeSpan();
      const st = fd !== undefined ? fs.fstatSync(fd) : fs.lstatSync(abs);
      if (premade) {
        // checked against the COPY's record of it; its bytes are the premade tar's
        const link = st.isSymbolicLink() ? fs.readlinkSync(abs) : '';
        opts.onStat?.(rel, st, link);
        const t =
          (st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : undefined) ??
          pre.mismatch(`${rel} is not a directory, a regular file or a symbolic link`);
        if (pre.needsXattrCheck(t === 'd')) {
          const x = xattrsOf(abs);
          if (x.list.length > 0 || x.opaque || x.whiteout) pre.mismatch(`${rel} has extended attributes`);
        }
        // a premade tar holds no hard link (the COPY leaves it when it links)
        if (t === 'f' && st.nlink > 1) pre.mismatch(`${rel} has ${st.nlink} links`);
        const size = t === 'f' ? st.size : 0;
        pre.check(rel, premadeKey(rel, t, st.mode, st.uid, st.gid, size, mtimeOf(st), link));
        stats.entries++;
        opts.onEntry?.(rel, t === 'd' ? 'dir' : t === 'f' ? 'file' : 'symlink', size);
        if (t === 'd') stack.push(walkDir(rel, abs));
        if (size > PREMADE_INLINE_MAX || pre.spanFull) yield* premadeSpan();
        if (size > PREMADE_INLINE_MAX) {
          // a body the kernel copied: read from the upperdir, as any large file's
          yield { fd: fs.openSync(abs, OPEN_FLAGS), size, path: abs };
          put(paddingFor(size));
        }
        continue;
      }
      if (fd !== undefined && !st.isFile()) {
        fs.closeSync(fd);
        fd = undefined;
      }
      const linkTarget = st.isSymbolicLink() ? fs.readlinkSync(abs) : '';
      opts.onStat?.(rel, st, linkTarget);
      const x = xattrsOf(abs, fd);
      const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: mtimeOf(st), xattrs: x.list };
      let header: Buffer | undefined;
      let simple: TarEntryHeader | undefined;
      let type: EntryType | undefined;
      let body = 0;
      /** Headers without PAX records are written straight into the batch (no allocation). */
      const enc = (eh: TarEntryHeader): Buffer => {
        const blocks = headerBlocks(eh);
        if (blocks) return blocks;
        simple = eh;
        return SIMPLE;
      };
      if (
        overlay &&
        (isWhiteoutDevice(st.isCharacterDevice(), st.rdev) || (x.whiteout && st.isFile() && st.size === 0))
      ) {
        const dir = rel.slice(0, rel.length - base.length);
        header = enc({
          name: dir + tarWhiteoutName(base),
          type: 'file',
          size: 0,
          mode: 0o644,
          uid: 0,
          gid: 0,
          mtime: common.mtime,
        });
        type = 'file';
      } else if (st.isDirectory()) {
        const dir: TarEntryHeader = { ...common, name: `${rel}/`, type: 'dir', size: 0 };
        header = enc(dir);
        if (x.opaque) {
          header = Buffer.concat([
            encodeHeader(dir),
            encodeHeader({
              name: `${rel}/${OPAQUE_MARKER}`,
              type: 'file',
              size: 0,
              mode: 0o644,
              uid: 0,
              gid: 0,
              mtime: common.mtime,
            }),
          ]);
          stats.entries++;
        }
        type = 'dir';
        stack.push(walkDir(rel, abs));
      } else if (st.isFile()) {
        const key = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
        const first = key !== undefined ? links.get(key) : undefined;
        if (first !== undefined) {
          header = enc({ ...common, name: rel, type: 'link', size: 0, linkname: first });
          type = 'link';
        } else {
          if (key !== undefined) links.set(key, rel);
          body = st.size;
          header = enc({ ...common, name: rel, type: 'file', size: body });
          type = 'file';
        }
      } else if (st.isSymbolicLink()) {
        header = enc({ ...common, name: rel, type: 'symlink', size: 0, linkname: linkTarget });
        type = 'symlink';
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        type = st.isCharacterDevice() ? 'char' : 'block';
        header = enc({ ...common, name: rel, type, size: 0, devmajor: majorOf(st.rdev), devminor: minorOf(st.rdev) });
      } else if (st.isFIFO()) {
        header = enc({ ...common, name: rel, type: 'fifo', size: 0 });
        type = 'fifo';
      }
      // sockets are not carried by tar layers (Docker skips them too)
      if (!header || !type) continue;
      stats.entries++;
      opts.onEntry?.(rel, type, body);
      const pad = (BLOCK - (body % BLOCK)) % BLOCK;
      const hlen = header === SIMPLE ? BLOCK : header.length;
      const putHeader = (): void => {
        if (header === SIMPLE) {
          encodeSimpleHeaderInto(simple!, batch, off);
          off += BLOCK;
        } else put(header);
      };
      if (body === 0 || body > SMALL_FILE) {
        const full = room(hlen);
        if (full) yield full;
        putHeader();
      }
      if (body > 0 && body <= SMALL_FILE) {
        const full = room(hlen + body + pad);
        if (full) yield full;
        putHeader();
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
        const held = flush();
        if (held) yield held;
        if (opts.handOffLargeFiles) {
          // the consumer copies the body (on another thread) while this walk goes on
          const h = fd ?? fs.openSync(abs, OPEN_FLAGS);
          fd = undefined;
          yield { fd: h, size: body, path: abs };
          put(paddingFor(body));
          continue;
        }
        // large bodies are read straight into the batch buffer, one ~1 MiB piece at a time
        const h = fd ?? fs.openSync(abs, OPEN_FLAGS);
        try {
          let sent = 0;
          while (sent < body) {
            const want = Math.min(BATCH, body - sent);
            let n = 0;
            while (n < want) {
              const r = fs.readSync(h, batch, n, want - n, sent + n);
              if (r === 0) break;
              n += r;
            }
            if (n < want) batch.fill(0, n, want); // the file shrank: pad to the size the header promised
            sent += want;
            off = want;
            yield handOff();
            batch = fresh(BATCH);
            off = 0;
          }
        } finally {
          if (fd === undefined) fs.closeSync(h);
        }
        put(paddingFor(body));
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  if (pre && pre.pending > 0) yield* premadeSpan();
  const full = room(END_OF_ARCHIVE.length);
  if (full) yield full;
  put(END_OF_ARCHIVE);
  yield handOff();
}

/**
 * The layer tar of `dir` as chunks and, for bodies over 1 MiB, FileBody items the consumer copies itself (e.g. on
 * another thread while the walk goes on). Each chunk is valid only until the next item is asked for (the buffers
 * are reused), so the consumer must write it before iterating on. `stats` fills in as it is read.
 */
export function diffChunks(
  dir: string,
  opts: DiffOptions = {},
  stats: DiffStats = { entries: 0 },
): AsyncGenerator<Buffer | FileBody> {
  return generate(dir, { ...opts, reuseBuffers: true, handOffLargeFiles: true }, stats);
}

/** The layer tar of `dir` as a stream. `stats` fills in as it is read. */
export function diffDir(dir: string, opts: DiffOptions = {}, stats: DiffStats = { entries: 0 }): Readable {
  return Readable.from(generate(dir, { ...opts, handOffLargeFiles: false }, stats) as AsyncGenerator<Buffer>, {
    objectMode: false,
    highWaterMark: BATCH,
  });
}
