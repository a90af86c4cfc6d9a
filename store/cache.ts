// Build cache records: JSON files named by the sha256 of the cache key, written atomically.
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { CacheRecord } from './api.js';
import { isNotFound, writeFileAtomic } from './fsutil.js';

function recordName(key: string): string {
  return `${createHash('sha256').update(key).digest('hex')}.json`;
}

export function cachePath(root: string, key: string): string {
  return join(root, 'cache', recordName(key));
}

export async function getCache(root: string, key: string): Promise<CacheRecord | undefined> {
  try {
    // read without the thread pool: a record is a few hundred bytes, and a rebuild reads one per step
    const rec = JSON.parse(readFileSync(cachePath(root, key), 'utf8')) as CacheRecord & { key?: string };
    if (rec.key !== undefined && rec.key !== key) return undefined;
    const { key: _k, ...rest } = rec;
    void _k;
    return rest;
  } catch (e) {
    if (isNotFound(e) || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

export async function putCache(root: string, key: string, record: CacheRecord): Promise<void> {
  // A lost record costs a rebuild of one step, and getCache reads an empty or torn one as a miss: no fsync.
  await writeFileAtomic(cachePath(root, key), JSON.stringify({ key, ...record }), { durable: false });
}

/**
 * A store's cache records as one process sees them: the directory is listed once, at the first lookup, and a key
 * whose record was not there (nor written since by this process) is a miss without opening a file — a build on a
 * fresh CI store misses every step locally. A record another process writes after the listing is not seen: that
 * costs at most a step run again (or taken from a remote cache), never a wrong hit.
 */
export class CacheRecords {
  private names: Promise<Set<string> | undefined> | undefined;

  constructor(private readonly root: string) {}

  private listed(): Promise<Set<string> | undefined> {
    return (this.names ??= readdir(join(this.root, 'cache')).then(
      (n) => new Set(n),
      () => undefined,
    ));
  }

  async get(key: string): Promise<CacheRecord | undefined> {
    const names = await this.listed();
    if (names && !names.has(recordName(key))) return undefined;
    return getCache(this.root, key);
  }

  async put(key: string, record: CacheRecord): Promise<void> {
    await putCache(this.root, key, record);
    (await this.listed())?.add(recordName(key));
  }
}
