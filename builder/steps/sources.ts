// COPY/ADD sources gathered before the cache lookup: context paths (wildcards, dir vs contents, --exclude,
// --parents), heredocs, and URLs (ADD, downloaded and hashed, with --checksum). The content hash of what was
// gathered goes into the step's cache key.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { loadDockerignore, type BuildContext, type ContextEntry } from '../context.js';
import { download } from '../download.js';
import { hasWildcard } from '../fsutil.js';

export interface LocalItem {
  kind: 'local';
  /** Name the source lands under when the destination is a directory (basename, or full path with --parents). */
  name: string;
  entry: ContextEntry;
  /**
   * For a directory: everything below it (paths relative to it), filtered, walked afresh at each call (the cache
   * key and the copy each stream it; a context of a million files is never a list).
   */
  children(): Iterable<LocalChild>;
}

export interface LocalChild {
  rel: string;
  entry: ContextEntry;
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
      const exclude = opts.exclude;
      const children = function* (): Generator<LocalChild, void, undefined> {
        if (entry.type !== 'dir') return;
        let first = true;
        for (const c of src.entries(entry.rel)) {
          if (first) {
            first = false; // the directory itself
            continue;
          }
          const rel = entry.rel === '' ? c.rel : c.rel.slice(entry.rel.length + 1);
          if (exclude && (exclude(c.rel) || exclude(rel))) continue;
          yield { rel, entry: c };
        }
      };
      items.push({ kind: 'local', name: opts.parents ? entry.rel || name : name, entry, children });
    }
  }
  return { items, multi };
}

/** The content hash of local items, as it goes into the cache key. */
export async function hashLocal(
  src: BuildContext,
  items: LocalItem[],
  perFile?: (rel: string, modeHash: string) => void,
): Promise<string> {
  const all = function* (): Generator<{ name: string; entry: ContextEntry }, void, undefined> {
    for (const it of items) {
      yield { name: it.name, entry: it.entry };
      for (const c of it.children()) yield { name: `${it.name}/${c.rel}`, entry: c.entry };
    }
  };
  return src.hashEntries(all(), perFile);
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** `--checksum=ALG:HEX` as BuildKit takes it (a digest of sha256, sha384 or sha512), or an error naming the value. */
export function parseChecksum(checksum: string): { algorithm: 'sha256' | 'sha384' | 'sha512'; hex: string } {
  const m = /^(sha256|sha384|sha512):([a-f0-9]+)$/.exec(checksum);
  const lengths = { sha256: 64, sha384: 96, sha512: 128 } as const;
  const algorithm = m?.[1] as keyof typeof lengths | undefined;
  if (!m || !algorithm || m[2]!.length !== lengths[algorithm])
    throw new SourceError(
      `invalid checksum digest "${checksum}": expected sha256:, sha384: or sha512: and the hex digest`,
    );
  return { algorithm, hex: m[2]! };
}

/** Downloads a URL (ADD) to a temporary file, hashing it; verifies `--checksum=ALG:…` (sha256/384/512) when given. */
export async function fetchUrl(
  url: string,
  tmpDir: string,
  checksum: string | undefined,
  signal?: AbortSignal,
): Promise<UrlItem> {
  const want = checksum !== undefined ? parseChecksum(checksum) : undefined;
  const dir = await mkdtemp(join(tmpDir, 'add-'));
  const file = join(dir, 'download');
  try {
    const res = await download(url, signal);
    if (!res.ok || !res.body) throw new SourceError(`ADD ${url}: HTTP ${res.status} ${res.statusText}`);
    // sha256 always (it keys the cache); the checksum's own algorithm beside it when that is another
    const h = createHash('sha256');
    const hc = want && want.algorithm !== 'sha256' ? createHash(want.algorithm) : undefined;
    const body = res.body;
    body.on('data', (c: Buffer) => {
      h.update(c);
      hc?.update(c);
    });
    await pipeline(body, createWriteStream(file));
    const sha256 = h.digest('hex');
    if (want) {
      const got = hc ? hc.digest('hex') : sha256;
      if (got !== want.hex)
        throw new SourceError(`ADD ${url}: checksum mismatch: expected ${checksum}, got ${want.algorithm}:${got}`);
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
