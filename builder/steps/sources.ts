// COPY/ADD sources gathered before the cache lookup: context paths (wildcards, dir vs contents, --exclude,
// --parents), heredocs, and URLs (ADD, downloaded and hashed, with --checksum). The content hash of what was
// gathered goes into the step's cache key.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadDockerignore, type BuildContext, type ContextEntry } from '../context.js';
import { hasWildcard } from '../fsutil.js';

export interface LocalItem {
  kind: 'local';
  /** Name the source lands under when the destination is a directory (basename, or full path with --parents). */
  name: string;
  entry: ContextEntry;
  /** For a directory: everything below it (paths relative to it), filtered. */
  children: { rel: string; entry: ContextEntry }[];
}

export interface HeredocItem {
  kind: 'heredoc';
  name: string;
  content: string;
}

export interface UrlItem {
  kind: 'url';
  name: string;
  file: string;
  sha256: string;
  mtime: Date | undefined;
  cleanup(): Promise<void>;
}

export type SourceItem = LocalItem | HeredocItem | UrlItem;

export class SourceError extends Error {
  override name = 'SourceError';
}

export async function excluder(patterns: string[]): Promise<((rel: string) => boolean) | undefined> {
  if (patterns.length === 0) return undefined;
  const ig = (await loadDockerignore())().add(patterns);
  return (rel) => rel !== '' && ig.ignores(rel);
}

/** Context (or stage rootfs) sources. `multi` tells the caller the destination must be a directory. */
export async function gatherLocal(
  src: BuildContext,
  srcs: string[],
  opts: { exclude?: (rel: string) => boolean; parents: boolean },
): Promise<{ items: LocalItem[]; multi: boolean }> {
  const items: LocalItem[] = [];
  let multi = srcs.length > 1;
  for (const s of srcs) {
    const found = await src.resolveSource(s);
    if (hasWildcard(s) && found.length > 1) multi = true;
    for (const { name, entry } of found) {
      if (opts.exclude?.(entry.rel)) continue;
      const children: { rel: string; entry: ContextEntry }[] = [];
      if (entry.type === 'dir') {
        for (const c of (await src.walk(entry.rel)).slice(1)) {
          const rel = entry.rel === '' ? c.rel : c.rel.slice(entry.rel.length + 1);
          if (opts.exclude && (opts.exclude(c.rel) || opts.exclude(rel))) continue;
          children.push({ rel, entry: c });
        }
      }
      items.push({ kind: 'local', name: opts.parents ? entry.rel || name : name, entry, children });
    }
  }
  return { items, multi };
}

/** The content hash of local items, as it goes into the cache key. */
export async function hashLocal(
  src: BuildContext,
  items: LocalItem[],
  perFile?: Record<string, string>,
): Promise<string> {
  const all: { name: string; entry: ContextEntry }[] = [];
  for (const it of items) {
    all.push({ name: it.name, entry: it.entry });
    for (const c of it.children) all.push({ name: `${it.name}/${c.rel}`, entry: c.entry });
  }
  return src.hashEntries(all, perFile);
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** Downloads a URL (ADD) to a temporary file, hashing it; verifies `--checksum=sha256:…` when given. */
export async function fetchUrl(
  url: string,
  tmpDir: string,
  checksum: string | undefined,
  signal?: AbortSignal,
): Promise<UrlItem> {
  const dir = await mkdtemp(join(tmpDir, 'add-'));
  const file = join(dir, 'download');
  try {
    const res = await fetch(url, { redirect: 'follow', ...(signal ? { signal } : {}) });
    if (!res.ok || !res.body) throw new SourceError(`ADD ${url}: HTTP ${res.status} ${res.statusText}`);
    const h = createHash('sha256');
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (c: Buffer) => h.update(c));
    await pipeline(body, createWriteStream(file));
    const sha256 = h.digest('hex');
    if (checksum !== undefined) {
      const want = checksum.replace(/^sha256:/, '');
      if (!checksum.startsWith('sha256:') || want !== sha256) {
        throw new SourceError(`ADD ${url}: checksum mismatch: expected ${checksum}, got sha256:${sha256}`);
      }
    }
    const lm = res.headers.get('last-modified');
    const name = posix.basename(new URL(url).pathname) || 'index.html';
    return {
      kind: 'url',
      name,
      file,
      sha256,
      mtime: lm ? new Date(lm) : undefined,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
