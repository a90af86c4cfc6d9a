// What `tsbuild images` and `tsbuild inspect` show: plain data, formatted by the CLI.
import type { Digest } from '../../oci/index.js';
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
}

export async function listImageRows(store: Store): Promise<ImageRow[]> {
  const rows: ImageRow[] = [];
  for (const { name, target } of await store.images.list()) {
    let problem: string | undefined;
    const rec = await store.images.resolve(`${name.replace(/@.*$/, '')}@${target.digest}`).catch((e: unknown) => {
      problem = (e as Error).message;
      return undefined;
    });
    rows.push({
      ...(problem ? { problem } : {}),
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
}

export async function inspectImage(store: Store, ref: string): Promise<InspectResult> {
  const rec = await store.images.resolve(ref);
  if (!rec) throw new StoreError(`image "${ref}" is not in the store`);
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
