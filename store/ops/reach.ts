// What an image keeps, as prune's mark sees it (gc.ts) and as its bounds weigh a tag (prune-bounds.ts): from a
// manifest or index digest, the indexes, manifests and configs it names, its layer blobs and their diffIDs. Only
// blobs on disk are read (a lazy one is a layer, and reading it would download it), small JSON only, a few levels.
import { readFile, stat } from 'node:fs/promises';
import { isDigest } from '../../oci/index.js';
import type { ImageConfigFile, ImageIndex, ImageManifest } from '../../oci/index.js';
import type { Store } from '../api.js';

const MAX_JSON = 4 << 20;
const MAX_DEPTH = 4;

export interface Reach {
  /** Blob digests reached: indexes, manifests, configs, layers. */
  blobs: Set<string>;
  /** The layers' diffIDs (their unpacked directories). */
  diffIDs: Set<string>;
  /** The indexes and manifests among the blobs. */
  manifests: Set<string>;
}

export function emptyReach(): Reach {
  return { blobs: new Set(), diffIDs: new Set(), manifests: new Set() };
}

/** Adds what `digest` reaches to `into`; a digest already there is not walked again. */
export async function reachFrom(store: Store, digest: string, into: Reach, depth = 0): Promise<void> {
  if (into.blobs.has(digest) || !isDigest(digest)) return;
  into.blobs.add(digest);
  const path = store.blobs.path(digest);
  const size = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  if (depth > MAX_DEPTH || size > MAX_JSON) return;
  let json: Partial<ImageManifest & ImageIndex & ImageConfigFile>;
  try {
    json = JSON.parse(await readFile(path, 'utf8')) as typeof json;
  } catch {
    return;
  }
  if (typeof json !== 'object' || json === null) return;
  if (Array.isArray(json.manifests) || Array.isArray(json.layers)) into.manifests.add(digest);
  if (Array.isArray(json.manifests)) for (const m of json.manifests) await reachFrom(store, m.digest, into, depth + 1);
  if (json.config && typeof json.config === 'object' && 'digest' in json.config)
    await reachFrom(store, (json.config as { digest: string }).digest, into, depth + 1);
  if (Array.isArray(json.layers)) {
    for (const l of json.layers) {
      into.blobs.add(l.digest);
      const diffID = await store.layers.diffIDOf(l);
      if (diffID) into.diffIDs.add(diffID);
    }
  }
  if (json.rootfs && Array.isArray(json.rootfs.diff_ids)) for (const id of json.rootfs.diff_ids) into.diffIDs.add(id);
}
