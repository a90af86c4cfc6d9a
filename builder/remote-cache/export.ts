// exportCache: the build's step records (all of them with mode=max, those of the final image with mode=min) written
// as a cache artifact to a registry or an OCI layout, or embedded inline in the final image's config.
import type { Descriptor, ImageConfigFile, ImageManifest } from '../../oci/index.js';
import { MediaType } from '../../oci/index.js';
import type { RegistryOptions } from '../../registry-client/index.js';
import type { CacheRecord, Store } from '../../store/index.js';
import { putJSON, readJSON, registryView } from '../../store/index.js';
import type { CacheWriter } from './backend.js';
import {
  canonicalJSON,
  CACHE_FORMAT_VERSION,
  encodeCache,
  INLINE_CACHE_KEY,
  type CacheConfig,
  type ExportedRecord,
  type RemoteRecord,
} from './format.js';
import { localWriter } from './local.js';
import { registryWriter } from './registry.js';
import { CacheSpecError, type CacheSpec } from './spec.js';

export interface CacheEntry {
  key: string;
  record: CacheRecord;
  /** The step's layer is one of the final image's layers (or the step made no layer). */
  finalImage: boolean;
}

const UNCOMPRESSED = new Set<string>([MediaType.OciLayer, MediaType.DockerLayer]);

export function selectEntries(entries: CacheEntry[], mode: 'min' | 'max'): CacheEntry[] {
  return mode === 'max' ? entries : entries.filter((e) => e.finalImage);
}

/** Exported records with the blob that carries each layer (the store's gzip blob for an uncompressed layer). */
async function exportedRecords(
  entries: CacheEntry[],
  store: Store,
  withBlobs: boolean,
): Promise<Record<string, ExportedRecord>> {
  const out: Record<string, ExportedRecord> = {};
  for (const { key, record } of entries) {
    const l = (record as RemoteRecord).layer;
    let layer: ExportedRecord['layer'] = null;
    if (l) {
      const base = {
        diffID: l.diffID,
        descriptor: { mediaType: l.descriptor.mediaType, digest: l.descriptor.digest, size: l.descriptor.size },
      };
      if (!withBlobs) layer = base;
      else {
        const blob =
          l.blob ??
          (UNCOMPRESSED.has(l.descriptor.mediaType) ? await store.layers.compressed(l.descriptor) : l.descriptor);
        layer = { ...base, blob: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size } };
      }
    }
    out[key] = { layer, data: record.data ?? null, createdAt: record.createdAt };
  }
  return out;
}

async function writerFor(spec: CacheSpec, registryOpts: RegistryOptions): Promise<CacheWriter> {
  if (spec.type === 'registry') return registryWriter(spec.ref, registryOpts);
  if (spec.type === 'local') {
    if (!spec.dest) throw new CacheSpecError(spec.text, 'type=local for --cache-to needs dest=DIR');
    return localWriter(spec.dest, spec.tag);
  }
  throw new CacheSpecError(spec.text, 'type=inline is written into the image by the builder (see embedInlineCache)');
}

/**
 * Writes the cache artifact for `spec` and returns its manifest descriptor. Blobs go first and the manifest last in
 * one write, so two concurrent exporters to one ref leave whichever finished last, complete.
 */
export async function exportCache(
  spec: CacheSpec,
  entries: CacheEntry[],
  store: Store,
  registryOpts: RegistryOptions = {},
): Promise<Descriptor> {
  const chosen = selectEntries(entries, spec.mode);
  const writer = await writerFor(spec, registryOpts);
  try {
    const enc = encodeCache(await exportedRecords(chosen, store, true));
    return await writer.write(enc, registryView(store));
  } finally {
    writer.close();
  }
}

/**
 * type=inline: a copy of the image config with the final image's records under INLINE_CACHE_KEY, written with its
 * manifest to the store. Returns the new config and manifest (the image changes, as with BuildKit's inline cache).
 */
export async function embedInlineCache(
  entries: CacheEntry[],
  store: Store,
  image: { manifest: Descriptor; config: ImageConfigFile },
): Promise<{ config: ImageConfigFile; configDigest: Descriptor['digest']; manifest: Descriptor }> {
  const value: CacheConfig = {
    version: CACHE_FORMAT_VERSION,
    records: await exportedRecords(selectEntries(entries, 'min'), store, false),
  };
  const config = {
    ...image.config,
    [INLINE_CACHE_KEY]: JSON.parse(canonicalJSON(value)) as unknown,
  } as ImageConfigFile;
  const configDesc = await putJSON(store.blobs, config, MediaType.OciConfig);
  const manifest = await readJSON<ImageManifest>(store.blobs, image.manifest.digest);
  const next: ImageManifest = {
    ...manifest,
    config: { ...manifest.config, digest: configDesc.digest, size: configDesc.size },
  };
  const manifestDesc = await putJSON(store.blobs, next, image.manifest.mediaType);
  return {
    config,
    configDigest: configDesc.digest,
    manifest: { ...manifestDesc, mediaType: image.manifest.mediaType },
  };
}
