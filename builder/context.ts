// The build context: a directory (or a tar read from stdin into a temporary directory), its .dockerignore
// (or `<Buildfile>.dockerignore` beside the Buildfile), source selection for COPY/ADD, and content hashing.
// Hashes are memoized per file by (size, mtime, ctime, inode, mode) in a machine-local file under the store, so an
// unchanged file is not read again; the hash itself covers only content, type, mode and relative path.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { closeSync, read as readCb } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname, join, posix, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import type { Ignore } from '@balena/dockerignore';
import { O } from '../runtime/index.js';
import { openIn, openRoot, type RootDir } from '../runtime/index.js';
import { cleanAbs, componentMatcher, hasWildcard, pmap, secureResolveVisible } from './fsutil.js';

const readFd = promisify(readCb);

type IgnoreFactory = () => Ignore;

/** @balena/dockerignore, loaded only when there are patterns (CommonJS with `exports.default`). */
export async function loadDockerignore(): Promise<IgnoreFactory> {
  const m = (await import('@balena/dockerignore')) as unknown as {
    default: IgnoreFactory | { default: IgnoreFactory };
  };
  const d = m.default;
  return typeof d === 'function' ? d : d.default;
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface ContextEntry {
  /** Path relative to the context root, `/`-separated, no leading slash ('' for the root). */
  rel: string;
  type: EntryType;
  stat: Stats;
  linkTarget?: string;
}

export class ContextError extends Error {
  override name = 'ContextError';
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

interface MemoEntry {
  s: number; // size
  m: number; // mtimeMs
  c: number; // ctimeMs
  i: number; // inode
  o: number; // mode
  h: string; // sha256 hex of content
}

export class BuildContext {
  private memo = new Map<string, MemoEntry>();
  private memoDirty = false;
  private readonly hasExceptions: boolean;
  private rootDir: RootDir | undefined;

  private constructor(
    readonly root: string,
    readonly ignorePatterns: string[],
    private readonly ignorer: Ignore | null,
    private readonly memoFile: string | undefined,
    private readonly cleanupDir: string | undefined,
  ) {
    this.hasExceptions = ignorePatterns.some((p) => p.trim().startsWith('!'));
  }

  /**
   * Opens a context directory. `buildfile` (a path) decides which ignore file applies; `memoDir` is where the
   * stat→hash memo lives (the store), keyed by the context's absolute path.
   */
  static async openDir(
    dir: string,
    opts: { buildfile?: string; memoDir?: string; cleanupDir?: string; noIgnore?: boolean } = {},
  ): Promise<BuildContext> {
    const root = resolve(dir);
    const st = await stat(root).catch(() => undefined);
    if (!st?.isDirectory()) throw new ContextError(`build context "${dir}" is not a directory`, dir);
    const patterns = opts.noIgnore ? [] : await readIgnore(root, opts.buildfile);
    let memoFile: string | undefined;
    if (opts.memoDir) {
      memoFile = join(opts.memoDir, `hashmemo-${createHash('sha256').update(root).digest('hex').slice(0, 24)}.json`);
    }
    const ignorer = patterns.length > 0 ? (await loadDockerignore())().add(patterns) : null;
    const ctx = new BuildContext(root, patterns, ignorer, memoFile, opts.cleanupDir);
    await ctx.loadMemo();
    return ctx;
  }

  /** Unpacks a tar stream (context `-`) into a temporary directory under `tmpParent` and opens it. */
  static async openTar(tar: NodeJS.ReadableStream, tmpParent: string): Promise<BuildContext> {
    await mkdir(tmpParent, { recursive: true });
    const dir = await mkdtemp(join(tmpParent, 'context-'));
    await new Promise<void>((res, rej) => {
      const p = spawn('tar', ['-x', '--no-same-owner', '-C', dir, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', rej);
      p.on('close', (code) =>
        code === 0 ? res() : rej(new ContextError(`reading the context tar from stdin failed: ${err.trim()}`)),
      );
      tar.pipe(p.stdin);
    });
    return BuildContext.openDir(dir, { cleanupDir: dir });
  }

  /** An empty context (the Buildfile came on stdin with no context). */
  static async empty(tmpParent: string): Promise<BuildContext> {
    await mkdir(tmpParent, { recursive: true });
    const dir = await mkdtemp(join(tmpParent, 'context-'));
    return BuildContext.openDir(dir, { cleanupDir: dir });
  }

  async close(): Promise<void> {
    this.rootDir?.close();
    this.rootDir = undefined;
    await this.saveMemo().catch(() => undefined);
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
    return openIn(this.rootDir, rel, O.RDONLY | O.NOFOLLOW, 'inRoot');
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
    return (await this.walk(rel)).some((x) => x.rel !== rel);
  }

  async entry(rel: string): Promise<ContextEntry | undefined> {
    let st: Stats;
    try {
      st = await lstat(this.abs(rel));
    } catch {
      return undefined;
    }
    return toEntry(rel, st, st.isSymbolicLink() ? await readlink(this.abs(rel)) : undefined);
  }

  /**
   * Everything under `rel` (itself first), minus ignored paths; sorted, parents before children. Ignored
   * directories are skipped unless an exception pattern (`!…`) may re-include something below them.
   */
  async walk(rel: string): Promise<ContextEntry[]> {
    const top = await this.entry(rel);
    if (!top) return [];
    const out: ContextEntry[] = [top];
    if (top.type !== 'dir') return out;
    // Synchronous metadata calls: for tens of thousands of small lstat()s this is several times faster than
    // round trips through libuv's thread pool.
    const visit = (dir: string): void => {
      const names = readdirSync(this.abs(dir)).sort();
      for (const n of names) {
        const r = dir ? `${dir}/${n}` : n;
        const abs = this.abs(r);
        const st = lstatSync(abs);
        const e = toEntry(r, st, st.isSymbolicLink() ? readlinkSync(abs) : undefined);
        const ignored = this.ignorer !== null && this.isIgnored(e.rel);
        if (e.type === 'dir') {
          if (ignored && !this.hasExceptions) continue;
          const at = out.length;
          out.push(e);
          visit(e.rel);
          // An ignored directory stays only when an exception re-included something below it.
          if (ignored && out.length === at + 1) out.pop();
          continue;
        }
        if (!ignored) out.push(e);
      }
    };
    visit(rel);
    return out;
  }

  /** Content sha256 (hex) of a regular file, from the memo when its metadata did not change. */
  async fileHash(e: ContextEntry): Promise<string> {
    const st = e.stat;
    const m = this.memo.get(e.rel);
    if (m && m.s === st.size && m.m === st.mtimeMs && m.c === st.ctimeMs && m.i === st.ino && m.o === st.mode)
      return m.h;
    const h = await hashFile(this.openFile(e.rel), st.size);
    this.memo.set(e.rel, { s: st.size, m: st.mtimeMs, c: st.ctimeMs, i: st.ino, o: st.mode, h });
    this.memoDirty = true;
    return h;
  }

  /**
   * One digest over a set of entries as they will land: destination-relative name, type, permission bits, and
   * content (files) or target (symlinks). No times, owners or inode numbers.
   */
  async hashEntries(items: { name: string; entry: ContextEntry }[], perFile?: Record<string, string>): Promise<string> {
    const hashes = await pmap(items, 16, async ({ entry }) =>
      entry.type === 'file' ? this.fileHash(entry) : entry.type === 'symlink' ? `link:${entry.linkTarget}` : '',
    );
    const h = createHash('sha256');
    items.forEach(({ name, entry }, i) => {
      if (perFile && entry.type !== 'dir')
        perFile[entry.rel] = `${(entry.stat.mode & 0o7777).toString(8)}:${hashes[i]}`;
      h.update(`${name}\0${entry.type}\0${(entry.stat.mode & 0o7777).toString(8)}\0${hashes[i]}\n`);
    });
    return h.digest('hex');
  }

  private async loadMemo(): Promise<void> {
    if (!this.memoFile) return;
    try {
      const raw = JSON.parse(await readFile(this.memoFile, 'utf8')) as Record<string, MemoEntry>;
      this.memo = new Map(Object.entries(raw));
    } catch {
      this.memo = new Map();
    }
  }

  private async saveMemo(): Promise<void> {
    if (!this.memoFile || !this.memoDirty) return;
    await mkdir(dirname(this.memoFile), { recursive: true });
    const tmp = `${this.memoFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(this.memo)));
    await rename(tmp, this.memoFile);
    this.memoDirty = false;
  }
}

function toEntry(rel: string, st: Stats, linkTarget: string | undefined): ContextEntry {
  const type: EntryType = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return { rel, type, stat: st, ...(linkTarget !== undefined ? { linkTarget } : {}) };
}

function notFound(src: string): ContextError {
  return new ContextError(`"${src}": not found in the build context (or excluded by .dockerignore)`, src);
}

/** Read buffers reused across files, so hashing tens of thousands of files allocates (and keeps) little memory. */
const bufferPool: Buffer[] = [];
const BUFFER_SIZE = 256 * 1024;

/** Hashes the file open as `fd`, and closes it. */
async function hashFile(fd: number, size: number): Promise<string> {
  const h = createHash('sha256');
  const buf = bufferPool.pop() ?? Buffer.allocUnsafe(BUFFER_SIZE);
  try {
    let pos = 0;
    for (;;) {
      const { bytesRead } = await readFd(fd, buf, 0, BUFFER_SIZE, pos);
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
