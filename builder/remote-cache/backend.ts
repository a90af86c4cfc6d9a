// Where a cache artifact lives: a registry repository or an OCI layout directory. Both read and write the same
// encoded artifact (format.ts); readers also understand an image whose config carries inline records.
import type { Readable } from 'node:stream';
import type { BlobSource, RemoteBlobSource } from '../../oci/index.js';
import { MediaType, type Descriptor, type ImageConfigFile, type ImageManifest } from '../../oci/index.js';
import {
  CACHE_CONFIG_MEDIA_TYPE,
  decodeRecords,
  INLINE_CACHE_KEY,
  parseCacheConfig,
  type EncodedCache,
  type ExportedRecord,
} from './format.js';

export interface CacheReader {
  /** The records of the cache; undefined when the ref holds nothing yet (a first CI run). */
  load(): Promise<Record<string, ExportedRecord> | undefined>;
  /** Streams one blob the loaded records point at. */
  openBlob(desc: Descriptor): Promise<Readable>;
  /**
   * Where a blob of the loaded records can still be fetched after this build (recorded as a lazy blob in the
   * store); undefined when the blob must be copied in now (a local cache directory may be gone by then).
   */
  sourceOf?(desc: Descriptor): RemoteBlobSource;
  close(): void;
}

export interface CacheWriter {
  /**
   * Writes every blob, then the config, then the manifest last (one PUT / one rename), so readers never see a half
   * cache.
   */
  write(encoded: EncodedCache, source: BlobSource): Promise<Descriptor>;
  close(): void;
}

/** A BlobSource over bytes held in memory (the small config blob). */
export function bytesSource(bytes: Buffer): BlobSource {
  return {
    openBlob: async () => (await import('node:stream')).Readable.from([bytes]),
    blobSize: async () => bytes.length,
  };
}

/**
 * Records from a fetched manifest: a cache artifact's config blob, or the inline records of an image config, whose
 * layers are then the image's own (matched by diffID through rootfs.diff_ids). `fetchConfig` reads the config bytes.
 */
export async function recordsFromManifest(
  manifest: ImageManifest,
  fetchConfig: (d: Descriptor) => Promise<Buffer>,
  source: string,
): Promise<Record<string, ExportedRecord> | undefined> {
  const cfgType = manifest.config?.mediaType;
  if (cfgType === CACHE_CONFIG_MEDIA_TYPE || manifest.artifactType === CACHE_CONFIG_MEDIA_TYPE) {
    return parseCacheConfig(await fetchConfig(manifest.config), source);
  }
  if (cfgType !== MediaType.OciConfig && cfgType !== MediaType.DockerConfig) return undefined;
  const config = JSON.parse((await fetchConfig(manifest.config)).toString('utf8')) as ImageConfigFile &
    Record<string, unknown>;
  const inline = config[INLINE_CACHE_KEY];
  if (inline === undefined) return undefined;
  const records = decodeRecords(inline, `${source} (inline)`);
  const diffIDs = config.rootfs?.diff_ids ?? [];
  const out: Record<string, ExportedRecord> = {};
  for (const [key, r] of Object.entries(records)) {
    if (r.layer === null) {
      out[key] = r;
      continue;
    }
    const i = diffIDs.indexOf(r.layer.diffID);
    const blob = i >= 0 ? manifest.layers[i] : undefined;
    if (blob)
      out[key] = {
        ...r,
        layer: { ...r.layer, blob: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size } },
      };
  }
  return out;
}

/** Reads a small blob stream into memory, refusing anything past `max` bytes. */
export async function readSmall(src: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    n += (c as Buffer).length;
    if (n > max) {
      src.destroy();
      throw new Error(`${what} is larger than ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
