// `tsbuild import ROOTFS.tar NAME`: a single-layer image from a root filesystem tarball (plain or gzip), like
// `docker import`. The layer is kept uncompressed (its digest is the diffID); the config names the host platform.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import {
  hostPlatform,
  MediaType,
  type Descriptor,
  type Digest,
  type ImageConfigFile,
  type ImageManifest,
} from '../../oci/index.js';
import type { Store } from '../api.js';
import { putJSON } from '../json.js';
import { decompressed } from '../decompress.js';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export async function importRootfs(store: Store, file: string, name: string): Promise<Digest> {
  const tar = await decompressed(createReadStream(file, { highWaterMark: 1 << 20 }));
  // Blobs.put leases the layer before placing it, so a concurrent prune keeps it until the tag names it
  const layer = await store.blobs.put(tar);
  const p = hostPlatform();
  const created = new Date().toISOString();
  const config: ImageConfigFile = {
    created,
    architecture: p.architecture,
    os: p.os,
    ...(p.variant ? { variant: p.variant } : {}),
    config: { Env: [DEFAULT_PATH] },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created, created_by: `tsbuild import ${basename(file)}`, comment: 'Imported from tarball' }],
  };
  const cfg = await putJSON(store.blobs, config, MediaType.OciConfig);
  const layerDesc: Descriptor = { mediaType: MediaType.OciLayer, digest: layer.digest, size: layer.size };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: cfg,
    layers: [layerDesc],
  };
  const desc = await putJSON(store.blobs, manifest, MediaType.OciManifest);
  await store.images.tag(name, desc);
  return desc.digest;
}
