// Step cache keys. A key is a digest over the parent step's key and everything that decides the step's result:
// the instruction after substitution, the build args it sees, and for COPY/ADD the content hash of the files it
// reads. Keys hold no machine detail (no absolute paths, inode numbers or local times), so a cache could be
// shared between machines.
import { createHash } from 'node:crypto';
import type { Descriptor, Digest } from '../oci/index.js';
import type { CacheRecord, Store } from '../store/index.js';

// v2: steps that change no file have a layer (the empty one), and COPY leaves an existing destination directory
// as it is; a v1 record would give the old image.
const VERSION = 'tsbuild-cache-v2';

export function cacheKey(parent: string, parts: unknown): string {
  return createHash('sha256')
    .update(VERSION)
    .update('\0')
    .update(parent)
    .update('\0')
    .update(JSON.stringify(parts))
    .digest('hex');
}

/** What the builder keeps with a step in the cache. */
export interface StepData {
  /** When the step first ran (its history `created`). */
  created: string;
}

export interface CachePolicy {
  /** Never read the cache (`--no-cache`), or not for these stages (`--no-cache-filter`). */
  noCache: boolean;
  noCacheStages: Set<string>;
}

export function cacheDisabledFor(policy: CachePolicy, stageName: string | undefined, stageIndex: number): boolean {
  if (policy.noCache) return true;
  if (stageName !== undefined && policy.noCacheStages.has(stageName)) return true;
  return policy.noCacheStages.has(String(stageIndex));
}

export async function lookup(store: Store, key: string): Promise<CacheRecord | undefined> {
  const rec = await store.cache.get(key);
  if (!rec) return undefined;
  // A layer whose blob was pruned is a miss.
  if (rec.layer && !(await store.blobs.has(rec.layer.descriptor.digest))) return undefined;
  return rec;
}

export async function record(
  store: Store,
  key: string,
  layer: { diffID: Digest; descriptor: Descriptor } | null,
  data: StepData,
): Promise<void> {
  await store.cache.put(key, { layer, data, createdAt: data.created });
}
