// Build cache records: JSON files named by the sha256 of the cache key, written atomically.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { CacheRecord } from './api.js';
import { isNotFound, writeFileAtomic } from './fsutil.js';

export function cachePath(root: string, key: string): string {
  return join(root, 'cache', `${createHash('sha256').update(key).digest('hex')}.json`);
}

export async function getCache(root: string, key: string): Promise<CacheRecord | undefined> {
  try {
    const rec = JSON.parse(await readFile(cachePath(root, key), 'utf8')) as CacheRecord & { key?: string };
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
