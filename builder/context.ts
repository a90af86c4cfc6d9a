// The build context: a directory (or a tar read from stdin into a temporary directory), its .dockerignore
// (or `<Buildfile>.dockerignore` beside the Buildfile), source selection for COPY/ADD, and content hashing.
// Hashes are memoized per file by (device, inode, size, mtime, ctime, mode) in a machine-local file under the store
// (builder/hash-memo.ts), so an unchanged file is not read again; the hash itself covers only content, type, mode and
// relative path. A walk is a stream (`entries`): a monorepo's context is never held as a list.
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { closeSync, read as readCb, readSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, posix, resolve } from 'node:path';
import type { Ignore } from '@balena/dockerignore';
import { O, openat } from '../runtime/index.js';
import { openIn, openRoot, type RootDir } from '../runtime/index.js';
import { startWorker } from '../store/index.js';
import { type ContextEntry, loadDockerignore, toEntry, walkBelow, type WalkWorkerUse } from './context-walk.js';
import { cleanAbs, componentMatcher, hasWildcard, secureResolveVisible } from './fsutil.js';
import { HashMemo } from './hash-memo.js';

export { type ContextEntry, type EntryStat, type EntryType, loadDockerignore } from './context-walk.js';

const readFd = promisify(readCb);

/** A walk of more than this many entries goes on in a worker thread (context-walk.ts). */
const WALK_WORKER: WalkWorkerUse = { after: 2_000, start: startWorker };

export class ContextError extends Error {
  override name = 'ContextError';
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

export class BuildContext {
  private readonly memo: HashMemo;
  private readonly hasExceptions: boolean;
  private rootDir: RootDir | undefined;
  /** The directory openFile() last opened a file in, and its fd. */
  private lastDir: { rel: string; fd: number } | undefined;

  private constructor(
    readonly root: string,
    readonly ignorePatterns: string[],
    private readonly ignorer: Ignore | null,
    private readonly memoFile: string | undefined,
    private readonly cleanupDir: string | undefined,
    /**
     * The directory is tsbuild's own and never changes (a Git checkout in the store's cache): a COPY may hard-link
     * its files into the layer instead of copying them. Git writes no hard links, so a file's extra links are
     * layers' that linked it.
     */
    readonly immutable = false,
  ) {
    this.hasExceptions = ignorePatterns.some((p) => p.trim().startsWith('!'));
    this.memo = new HashMemo(memoFile);
  }

  /**
   * Opens a context directory. `buildfile` (a path) decides which ignore file applies; `memoDir` is where the
   * stat→hash memo lives (the store), keyed by the context's absolute path.
   */
  static async openDir(
    dir: string,
    opts: { buildfile?: string; memoDir?: string; cleanupDir?: string; noIgnore?: boolean; immutable?: boolean } = {},
  ): Promise<BuildContext> {
    const root = resolve(dir);
    const st = await stat(root).catch(() => undefined);
    if (!st?.isDirectory()) throw new ContextError(`build context "${dir}" is not a directory`, dir);
    const patterns = opts.noIgnore ? [] : await readIgnore(root, opts.buildfile);
    let memoFile: string | undefined;
    if (opts.memoDir) {
      memoFile = join(opts.memoDir, `hashmemo-${createHash('sha256').update(root).digest('hex').slice(0, 24)}.bin`);
    }
    const ignorer = patterns.length > 0 ? (await loadDockerignore())().add(patterns) : null;
    const ctx = new BuildContext(root, patterns, ignorer, memoFile, opts.cleanupDir, opts.immutable ?? false);
    await ctx.memo.load();
    return ctx;
  }

  /**
   * Unpacks a tar stream (context `-`, or a downloaded context), compressed or not, into a temporary directory under
   * `tmpParent` and opens it. The archive is untrusted: the store's unpacker writes it (builder/context-tar.ts).
   */
  static async openTar(
    tar: NodeJS.ReadableStream,
    tmpParent: string,
    what = 'the context tar on stdin',
  ): Promise<BuildContext> {
    await mkdir(tmpParent, { recursive: true });
    const dir = await mkdtemp(join(tmpParent, 'context-'));
    try {
      const { unpackContextTar } = await import('./context-tar.js');
      await unpackContextTar(tar as AsyncIterable<Buffer>, dir, what);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return BuildContext.openDir(dir, { cleanupDir: dir });
  }

  /** An empty context (the Buildfile came on stdin with no context). */
  static async empty(tmpParent: string): Promise<BuildContext> {
    await mkdir(tmpParent, { recursive: true });
    const dir = await mkdtemp(join(tmpParent, 'context-'));
    return BuildContext.openDir(dir, { cleanupDir: dir });
  }

  /** Content hashes of source lists (immutable contexts only): parts digest → hash; loaded on first use. */
  private known: Map<string, string> | undefined;
  private knownDirty = false;

  private knownFile(): string | undefined {
    return this.immutable && this.memoFile ? this.memoFile.replace(/\.bin$/, '.keys.json') : undefined;
  }

  private partsDigest(parts: unknown): string {
    return createHash('sha256')
      .update(JSON.stringify([this.ignorePatterns, parts]))
      .digest('hex');
  }

  /**
   * The content hash a COPY computed before for the same sources and filters (`parts`), when this context never
   * changes (a Git checkout): its tree is walked and hashed once per source list, as BuildKit's content-hash cache
   * keeps one per snapshot, and a rebuild of the same commit takes its COPY key without a walk.
   */
  async knownHash(parts: unknown): Promise<string | undefined> {
    const file = this.knownFile();
    if (!file) return undefined;
    if (!this.known) {
      this.known = new Map();
      try {
        const v = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
        // only what could be a hash: the file is the store's, but a torn or old one must not name a wrong key
        for (const [k, h] of Object.entries(v))
          if (typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)) this.known.set(k, h);
      } catch {
        /* none yet */
      }
    }
    return this.known.get(this.partsDigest(parts));
  }

  /** Records what hashing `parts` gave (immutable contexts; written when the context closes). */
  rememberHash(parts: unknown, hash: string): void {
    if (!this.knownFile()) return;
    (this.known ??= new Map()).set(this.partsDigest(parts), hash);
    this.knownDirty = true;
  }

  async close(): Promise<void> {
    if (this.lastDir) closeSync(this.lastDir.fd);
    this.lastDir = undefined;
    this.rootDir?.close();
    this.rootDir = undefined;
    await this.memo.save().catch(() => undefined);
    const file = this.knownFile();
    if (file && this.known && this.knownDirty) {
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(Object.fromEntries(this.known)))
        .then(() => rename(tmp, file))
        .catch(() => rm(tmp, { force: true }));
    }
    if (this.cleanupDir) await rm(this.cleanupDir, { recursive: true, force: true });
  }

  isIgnored(rel: string): boolean {
    return rel !== '' && this.ignorer !== null && this.ignorer.ignores(rel);
  }

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  /**
   * Opens a file of the context for reading, resolved inside it by the kernel (a symlink on the way is followed
   * inside the root, the file itself must not be one): the caller closes the fd.
   */
  openFile(rel: string): number {
    this.rootDir ??= openRoot(this.root);
    // A walk opens a directory's files one after the other: its directory is resolved once (as every directory on
    // the way is: inside the root) and each file opened by name below it, never following a link at the name.
    const slash = rel.lastIndexOf('/');
    const name = rel.slice(slash + 1);
    if (slash <= 0 || name === '' || name === '.' || name === '..')
      return openIn(this.rootDir, rel, O.RDONLY | O.NOFOLLOW, 'inRoot');
    const dir = rel.slice(0, slash);
    if (this.lastDir?.rel !== dir) {
      const fd = openIn(this.rootDir, dir, O.RDONLY | O.DIRECTORY, 'inRoot');
      if (this.lastDir) closeSync(this.lastDir.fd);
      this.lastDir = { rel: dir, fd };
    }
    return openat(this.lastDir.fd, name, O.RDONLY | O.NOFOLLOW);
  }

  /**
   * `path` resolved inside the context the way BuildKit sees the filtered context: symlinks are followed inside
   * the root, and a path that is .dockerignore'd (unless an exception re-includes something below it) is not
   * there, whether it is reached by its own name or through a link. The last component is followed when
   * `followLast`. Returns the resolved relative path, or undefined.
   */
  private async resolveVisible(path: string, followLast: boolean): Promise<string | undefined> {
    const visible =
      this.ignorer === null
        ? () => true
        : async (rel: string) => !this.isIgnored(rel) || (await this.hasIncludedBelow(rel));
    const real = await secureResolveVisible(this.root, path, followLast, visible);
    return real === undefined ? undefined : real.slice(1);
  }

  /**
   * Resolves a COPY/ADD source (after substitution) to context entries: wildcards expanded, the top-level source
   * followed if it is a symlink (inside the context), excluded paths treated as missing.
   */
  async resolveSource(src: string): Promise<{ name: string; entry: ContextEntry }[]> {
    const clean = cleanAbs(src);
    if (!hasWildcard(clean)) {
      const real = await this.resolveVisible(clean, true);
      const e = real === undefined ? undefined : await this.entry(real);
      if (!e) throw notFound(src);
      return [{ name: posix.basename(clean), entry: e }];
    }
    // Each matched prefix is resolved inside the root before it is read (a link to `/etc` or to `..` is followed
    // as the container would see it, never on the host); the last component is kept as is (a symlink is copied
    // as a symlink).
    const parts = clean.split('/').filter(Boolean);
    let current = [''];
    for (const part of parts) {
      const next: string[] = [];
      const re = hasWildcard(part) ? componentMatcher(part) : null;
      for (const prefix of current) {
        const dir = prefix === '' ? '' : await this.resolveVisible(prefix, true);
        if (dir === undefined) continue;
        if (!re) {
          next.push(dir ? `${dir}/${part}` : part);
          continue;
        }
        const names = await readdir(this.abs(dir)).catch(() => [] as string[]);
        for (const n of names.sort()) if (re.test(n)) next.push(dir ? `${dir}/${n}` : n);
      }
      current = next;
    }
    const out: { name: string; entry: ContextEntry }[] = [];
    for (const rel of current) {
      const real = await this.resolveVisible(rel, false);
      const e = real === undefined ? undefined : await this.entry(real);
      if (e) out.push({ name: posix.basename(rel), entry: e });
    }
    if (out.length === 0) throw notFound(src);
    return out;
  }

  private async hasIncludedBelow(rel: string): Promise<boolean> {
    if (!this.hasExceptions) return false;
    const e = await this.entry(rel);
    if (!e || e.type !== 'dir') return false;
    return this.hasVisibleBelow(rel);
  }

  /** Whether the walk of `rel` yields anything below it (stops at the first). */
  hasVisibleBelow(rel: string): boolean {
    for (const x of this.entries(rel)) if (x.rel !== rel) return true;
    return false;
  }

  async entry(rel: string): Promise<ContextEntry | undefined> {
    return this.entrySync(rel, false);
  }

  private entrySync(rel: string, must: true, abs?: string): ContextEntry;
  private entrySync(rel: string, must: false, abs?: string): ContextEntry | undefined;
  private entrySync(rel: string, must: boolean, abs = this.abs(rel)): ContextEntry | undefined {
    let st: Stats;
    try {
      st = lstatSync(abs);
    } catch (e) {
      if (must) throw e;
      return undefined;
    }
    return toEntry(rel, st, st.isSymbolicLink() ? readlinkSync(abs) : undefined);
  }

  /** Everything under `rel` as a list: for small trees and tests; a build streams `entries`. */
  async walk(rel: string): Promise<ContextEntry[]> {
    return [...this.entries(rel)];
  }

  /**
   * Everything under `rel` (itself first), minus ignored paths; sorted, parents before children (BuildKit's
   * order), one entry at a time. Ignored directories are skipped unless an exception pattern (`!…`) may re-include
   * something below them: such a directory is held back until something below it is yielded.
   * The walk's metadata calls are synchronous (for tens of thousands of small lstat()s several times faster than
   * round trips through libuv's thread pool), and a long walk goes on in a worker thread (context-walk.ts).
   */
  *entries(rel: string, worker: WalkWorkerUse | false = WALK_WORKER): Generator<ContextEntry, void, undefined> {
    const top = this.entrySync(rel, false);
    if (!top) return;
    yield top;
    if (top.type !== 'dir') return;
    // ignored directories whose subtree the walk is in, waiting for something below them to be yielded
    const pending: ContextEntry[] = [];
    const ignore = { ignorer: this.ignorer, patterns: this.ignorePatterns, hasExceptions: this.hasExceptions };
    for (const e of walkBelow(rel, this.abs(rel), ignore, worker)) {
      const r = e.rel;
      // the walk has left the subtrees of these: nothing below them was re-included, they stay out
      while (pending.length > 0 && !r.startsWith(`${pending[pending.length - 1]!.rel}/`)) pending.pop();
      if (this.ignorer !== null && this.isIgnored(r)) {
        // an ignored directory is walked only when an exception may re-include something below it
        if (e.type === 'dir' && this.hasExceptions) pending.push(e);
        continue;
      }
      if (pending.length > 0) {
        yield* pending;
        pending.length = 0;
      }
      yield e;
    }
  }

  /** Content sha256 (hex) of a regular file, from the memo when its metadata did not change. */
  async fileHash(e: ContextEntry): Promise<string> {
    return this.hashOf(e);
  }

  /** The memo's hash of a file as it is (no promise, no tick), or the promise of reading it. */
  private hashOf(e: ContextEntry): string | Promise<string> {
    return this.memo.get(e.stat) ?? this.readHash(e);
  }

  private async readHash(e: ContextEntry): Promise<string> {
    const h = await hashFile(this.openFile(e.rel), e.stat.size);
    this.memo.set(e.stat, h);
    return h;
  }

  /**
   * One digest over a set of entries as they will land: destination-relative name, type, permission bits, and
   * content (files) or target (symlinks). No times, owners or inode numbers. The entries are consumed as a stream:
   * files are hashed in a bounded window, in order. `perFile` gets the source path's `mode:hash` of every non-dir.
   */
  async hashEntries(
    items: Iterable<{ name: string; entry: ContextEntry }>,
    perFile?: (rel: string, modeHash: string) => void,
  ): Promise<string> {
    const d = new EntriesDigest(HASH_WINDOW, perFile);
    try {
      for (const { name, entry } of items) {
        // a file the memo knows goes in as its hash, not a promise of it: a no-op walk takes no tick per file
        const full = d.add(name, entry, entry.type === 'file' ? this.hashOf(entry) : undefined);
        if (full) await full;
      }
      return await d.digest();
    } finally {
      // on a failure, the files already being read still finish (their fds close) before the error goes up
      await d.settled();
    }
  }

  /** Remembers the content hash of a file read by someone else (a COPY that hashed what it copied). */
  noteHash(e: ContextEntry, hash: string): void {
    if (e.type === 'file') this.memo.set(e.stat, hash);
  }
}

/**
 * The digest of hashEntries, fed one entry at a time in walk order: each file comes with its content hash, or a
 * promise of it, and the digest takes them in order, at most `window` behind. A COPY that will run anyway feeds it
 * the hashes of what it copies, and reads each file once (builder/steps/copy.ts).
 */
export class EntriesDigest {
  private readonly h = createHash('sha256');
  private readonly window: { name: string; entry: ContextEntry; hash: string | Promise<string> | undefined }[] = [];
  /** Digest lines not yet hashed: one update per piece instead of one per entry. */
  private text = '';

  constructor(
    private readonly limit: number,
    private readonly perFile?: (rel: string, modeHash: string) => void,
  ) {}

  /**
   * Adds the next entry (`hash`: a file's content sha256, or a promise of it). When `limit` are pending, returns
   * the wait for the oldest; otherwise nothing, so that a walk of a million entries does not pay a promise tick for
   * each. An entry with nothing pending before it goes in at once.
   */
  add(name: string, entry: ContextEntry, hash?: string | Promise<string>): Promise<void> | undefined {
    if (typeof hash === 'object')
      hash.catch(() => undefined); // awaited in order by take(); not unhandled meanwhile
    else if (this.window.length === 0) {
      this.line(name, entry, hash);
      return undefined;
    }
    this.window.push({ name, entry, hash });
    return this.window.length >= this.limit ? this.take() : undefined;
  }

  /** The hex digest, once every entry's hash is in. */
  async digest(): Promise<string> {
    while (this.window.length > 0) await this.take();
    this.h.update(this.text);
    this.text = '';
    return this.h.digest('hex');
  }

  /** Resolves when every pending hash has settled, whatever the outcome. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.window.flatMap((w) => (typeof w.hash === 'object' ? [w.hash] : [])));
  }

  /** Takes the oldest entry (waiting for its hash), then every one after it whose hash is already there. */
  private async take(): Promise<void> {
    const { name, entry, hash } = this.window[0]!;
    const x = typeof hash === 'object' ? await hash : hash;
    this.window.shift();
    this.line(name, entry, x);
    while (this.window.length > 0 && typeof this.window[0]!.hash !== 'object') {
      const w = this.window.shift()!;
      this.line(w.name, w.entry, w.hash as string | undefined);
    }
  }

  private line(name: string, entry: ContextEntry, hash: string | undefined): void {
    const x = entry.type === 'file' ? hash! : entry.type === 'symlink' ? `link:${entry.linkTarget}` : '';
    const mode = (entry.stat.mode & 0o7777).toString(8);
    if (this.perFile && entry.type !== 'dir') this.perFile(entry.rel, `${mode}:${x}`);
    this.text += `${name}\0${entry.type}\0${mode}\0${x}\n`;
    if (this.text.length >= DIGEST_PIECE) {
      this.h.update(this.text);
      this.text = '';
    }
  }
}

/** Characters of digest lines hashed at once. */
const DIGEST_PIECE = 16_384;

/** The sha256 of `b` in hex, in one call (Node 20.12+: half the cost of a Hash object for a few KB). */
export function sha256Hex(b: Uint8Array): string {
  return oneShot ? oneShot('sha256', b, 'hex') : createHash('sha256').update(b).digest('hex');
}

const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'hex') => string }).hash;

/** Files hashed at once (their reads overlap); also how far the digest runs behind the walk. */
const HASH_WINDOW = 16;

function notFound(src: string): ContextError {
  return new ContextError(`"${src}": not found in the build context (or excluded by .dockerignore)`, src);
}

/** Read buffers reused across files, so hashing tens of thousands of files allocates (and keeps) little memory. */
const bufferPool: Buffer[] = [];
const BUFFER_SIZE = 256 * 1024;

/**
 * Files up to this size are read on this thread: a read of a small cached file costs a few µs, its round trip
 * through the thread pool (queue, wake-up, callback, promise) ten times that, and a context of many small files
 * spent most of its hashing there (docs/performance.md).
 */
const SYNC_READ_MAX = 64 * 1024;

/** Hashes the file open as `fd`, and closes it. */
async function hashFile(fd: number, size: number): Promise<string> {
  const h = createHash('sha256');
  const buf = bufferPool.pop() ?? Buffer.allocUnsafe(BUFFER_SIZE);
  const sync = size <= SYNC_READ_MAX;
  try {
    let pos = 0;
    for (;;) {
      const bytesRead = sync
        ? readSync(fd, buf, 0, BUFFER_SIZE, pos)
        : (await readFd(fd, buf, 0, BUFFER_SIZE, pos)).bytesRead;
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
      if (pos >= size && bytesRead < BUFFER_SIZE) break;
    }
  } finally {
    closeSync(fd);
    bufferPool.push(buf);
  }
  return h.digest('hex');
}

/** `<Buildfile>.dockerignore` beside the Buildfile wins over the context's `.dockerignore`. */
async function readIgnore(root: string, buildfile: string | undefined): Promise<string[]> {
  const candidates = [...(buildfile ? [`${buildfile}.dockerignore`] : []), join(root, '.dockerignore')];
  for (const c of candidates) {
    let text: string;
    try {
      text = await readFile(c, 'utf8');
    } catch {
      continue;
    }
    return parseIgnore(text);
  }
  return [];
}

/** Docker's .dockerignore reading: comments, blank lines, leading `/` and path cleaning. */
export function parseIgnore(text: string): string[] {
  const out: string[] = [];
  for (let line of text.split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    line = line.trim();
    if (line === '') continue;
    let neg = false;
    if (line.startsWith('!')) {
      neg = true;
      line = line.slice(1).trim();
    }
    line = posix.normalize(line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (line === '' || line === '.') continue;
    out.push(neg ? `!${line}` : line);
  }
  return out;
}
