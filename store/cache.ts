// Build cache records: JSON files named by the sha256 of the cache key, written atomically.
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { CacheRecord, CacheRecords } from './api.js';
import { isNotFound, writeFileAtomic, writeLinkedBatch } from './fsutil.js';

function recordName(key: string): string {
  return `${createHash('sha256').update(key).digest('hex')}.json`;
}

export function cachePath(root: string, key: string): string {
  return join(root, 'cache', recordName(key));
}

export async function getCache(root: string, key: string): Promise<CacheRecord | undefined> {
  try {
    // read without the thread pool: a record is a few hundred bytes, and a rebuild reads one per step
    const parsed = JSON.parse(readFileSync(cachePath(root, key), 'utf8')) as
      (CacheRecord & { key?: string }) | { records: Record<string, CacheRecord> };
    // written by putMany: the file holds the whole batch, linked under each key's name
    const rec =
      'records' in parsed
        ? Object.hasOwn(parsed.records, key)
          ? { key, ...parsed.records[key]! }
          : undefined
        : parsed;
    if (!rec || (rec.key !== undefined && rec.key !== key)) return undefined;
    const { key: _k, ...rest } = rec;
    return rest;
  } catch (e) {
    if (isNotFound(e) || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/**
 * The record a cache file holds for its own name (a batch file linked under several names holds several), or
 * undefined when it is unreadable. For prune, which has names, not keys.
 */
export function recordInFile(text: string, name: string): CacheRecord | undefined {
  try {
    const parsed = JSON.parse(text) as CacheRecord | { records: Record<string, CacheRecord> };
    if (!('records' in parsed)) return parsed;
    const hit = Object.entries(parsed.records).find(([k]) => recordName(k) === name);
    return hit?.[1];
  } catch {
    return undefined;
  }
}

export async function putCache(root: string, key: string, record: CacheRecord): Promise<void> {
  // A lost record costs a rebuild of one step, and getCache reads an empty or torn one as a miss: no fsync.
  await writeFileAtomic(cachePath(root, key), JSON.stringify({ key, ...record }), { durable: false });
}

/** Writes many records with one new file, linked under each key's name; a key that has a record keeps it. */
export async function putManyCache(root: string, entries: [string, CacheRecord][]): Promise<string[]> {
  if (entries.length === 0) return [];
  const records: Record<string, CacheRecord> = {};
  for (const [key, record] of entries) records[key] = record;
  // a lost batch costs the next build its local hits, as a lost record does: no fsync
  const existing = new Set(
    await writeLinkedBatch(
      join(root, 'cache'),
      JSON.stringify({ records }),
      entries.map(([k]) => cachePath(root, k)),
      { durable: false },
    ),
  );
  return entries.map(([k]) => k).filter((k) => !existing.has(cachePath(root, k)));
}

/**
 * A store's cache records as one process sees them: the directory is listed once, at the first lookup, and a key
 * whose record was not there (nor written since by this process) is a miss without opening a file — a build on a
 * fresh CI store misses every step locally. A record another process writes after the listing is not seen: that
 * costs at most a step run again (or taken from a remote cache), never a wrong hit.
 */
export class CacheDir implements CacheRecords {
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

  async holdsNone(): Promise<boolean> {
    return (await this.listed())?.size === 0;
  }

  async put(key: string, record: CacheRecord): Promise<void> {
    await putCache(this.root, key, record);
    (await this.listed())?.add(recordName(key));
  }

  async putMany(entries: [string, CacheRecord][]): Promise<void> {
    const linked = await putManyCache(this.root, entries);
    const names = await this.listed();
    for (const k of linked) names?.add(recordName(k));
  }
}
