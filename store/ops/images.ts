// What `tsbuild images` and `tsbuild inspect` show: plain data, formatted by the CLI.
import {
  formatPlatform,
  isIndexMediaType,
  type Descriptor,
  type Digest,
  type ImageIndex,
  type Platform,
} from '../../oci/index.js';
import type { Store } from '../api.js';
import { StoreError } from '../errors.js';

export interface ImageRow {
  name: string;
  /** Manifest (or index) digest the name points at. */
  digest: Digest;
  /** Image id: the config digest of the host-platform image, when resolvable. */
  id?: Digest;
  created?: string;
  /** Sum of the layer blob sizes. */
  size?: number;
  mediaType: string;
  /** Why the image could not be read (a blob missing or damaged): `tsbuild store verify` tells more. */
  problem?: string;
  /** The name points at an index (a multi-platform image): its platforms, in its order (`linux/arm/v7`). */
  platforms?: string[];
}

/** An index's entries with a platform (attestation manifests, which have none, left out); undefined for an image. */
async function indexEntries(
  store: Store,
  target: Descriptor,
): Promise<(Descriptor & { platform: Platform })[] | undefined> {
  if (!isIndexMediaType(target.mediaType)) return undefined;
  const index = JSON.parse((await store.blobs.read(target.digest)).toString('utf8')) as ImageIndex;
  return index.manifests.filter(
    (m): m is Descriptor & { platform: Platform } => m.platform !== undefined && m.platform.architecture !== 'unknown',
  );
}

export async function listImageRows(store: Store): Promise<ImageRow[]> {
  const rows: ImageRow[] = [];
  for (const { name, target } of await store.images.list()) {
    let problem: string | undefined;
    const rec = await store.images.resolve(`${name.replace(/@.*$/, '')}@${target.digest}`).catch((e: unknown) => {
      problem = (e as Error).message;
      return undefined;
    });
    const entries = await indexEntries(store, target).catch(() => undefined);
    rows.push({
      ...(problem ? { problem } : {}),
      ...(entries ? { platforms: entries.map((e) => formatPlatform(e.platform)) } : {}),
      name,
      digest: target.digest,
      mediaType: target.mediaType,
      ...(rec ? { id: rec.configDigest, size: rec.manifest.layers.reduce((a, l) => a + l.size, 0) } : {}),
      ...(rec?.config.created ? { created: rec.config.created } : {}),
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

export interface InspectResult {
  name?: string;
  digest: Digest;
  mediaType: string;
  id: Digest;
  config: unknown;
  layers: { digest: Digest; mediaType: string; size: number; diffID?: Digest; unpacked: boolean }[];
  size: number;
  /**
   * When the name points at an index (a multi-platform image): the index and its platforms; the rest of the result
   * is the image of the platform asked for (default the host's).
   */
  index?: {
    digest: Digest;
    mediaType: string;
    manifests: { digest: Digest; mediaType: string; size: number; platform: string }[];
  };
}

export async function inspectImage(store: Store, ref: string, platform?: Platform): Promise<InspectResult> {
  const rec = await store.images.resolve(ref, platform);
  if (!rec) {
    const index = await indexOf(store, ref);
    if (index && platform)
      throw new StoreError(
        `image "${ref}" has no ${formatPlatform(platform)} image (its platforms: ${index.manifests.map((m) => m.platform).join(', ')})`,
      );
    throw new StoreError(`image "${ref}" is not in the store`);
  }
  const index = await indexOf(store, ref);
  const layers: InspectResult['layers'] = [];
  for (let i = 0; i < rec.manifest.layers.length; i++) {
    const l = rec.manifest.layers[i]!;
    const diffID = rec.config.rootfs?.diff_ids?.[i] ?? (await store.layers.diffIDOf(l));
    layers.push({
      digest: l.digest,
      mediaType: l.mediaType,
      size: l.size,
      ...(diffID ? { diffID } : {}),
      unpacked: diffID ? (await store.layers.lowerdir(diffID)) !== undefined : false,
    });
  }
  return {
    ...(rec.name ? { name: rec.name } : {}),
    digest: rec.manifestDigest,
    mediaType: rec.manifestMediaType,
    id: rec.configDigest,
    config: rec.config,
    layers,
    size: layers.reduce((a, l) => a + l.size, 0),
    ...(index ? { index } : {}),
  };
}

/** The index a name (or `name@digest`, or an index digest) points at, with its platforms; undefined otherwise. */
async function indexOf(store: Store, ref: string): Promise<InspectResult['index']> {
  const { normalizeName, isDigest } = await import('../../oci/index.js');
  let target: Descriptor | undefined;
  const at = ref.lastIndexOf('@');
  const digest = isDigest(ref) ? ref : at > 0 && isDigest(ref.slice(at + 1)) ? ref.slice(at + 1) : undefined;
  if (digest) {
    const tagged = (await store.images.list()).find((t) => t.target.digest === digest);
    target = tagged?.target;
  } else {
    let name: string;
    try {
      name = normalizeName(ref);
    } catch {
      return undefined;
    }
    target = (await store.images.list()).find((t) => t.name === name)?.target;
  }
  if (!target) return undefined;
  const entries = await indexEntries(store, target).catch(() => undefined);
  if (!entries) return undefined;
  return {
    digest: target.digest,
    mediaType: target.mediaType,
    manifests: entries.map((e) => ({
      digest: e.digest,
      mediaType: e.mediaType,
      size: e.size,
      platform: formatPlatform(e.platform),
    })),
  };
}

/** Removes a tag. With a digest or id, removes every tag pointing at it. Returns the names removed. */
export async function removeImage(store: Store, ref: string): Promise<string[]> {
  if (await store.images.untag(ref)) {
    const { normalizeName } = await import('../../oci/index.js');
    try {
      return [normalizeName(ref)];
    } catch {
      return [ref];
    }
  }
  const rec = await store.images.resolve(ref);
  if (!rec) throw new StoreError(`image "${ref}" is not in the store`);
  const removed: string[] = [];
  for (const { name, target } of await store.images.list()) {
    if (target.digest === rec.manifestDigest) {
      await store.images.untag(name);
      removed.push(name);
      continue;
    }
    const r = await store.images.resolve(`${name.replace(/@.*$/, '')}@${target.digest}`).catch(() => undefined);
    if (r && (r.manifestDigest === rec.manifestDigest || r.configDigest === rec.configDigest)) {
      await store.images.untag(name);
      removed.push(name);
    }
  }
  return removed;
}
