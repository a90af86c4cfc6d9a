// The cache artifact: an OCI image manifest whose config blob (CACHE_CONFIG_MEDIA_TYPE) maps cache keys to step
// records, and whose `layers` list every layer blob a record points at (so registries keep them and GC is safe).
// The same records can ride inline in an image config under INLINE_CACHE_KEY, with layers found by diffID.
import { digestOf } from '../../oci/index.js';
import { MediaType, type Descriptor, type Digest, type ImageManifest } from '../../oci/index.js';
import type { CacheRecord } from '../../store/index.js';

export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.tsbuild.cache.config.v1+json';
/** Top-level key of an image config that carries inline cache records (BuildKit's is `moby.buildkit.cache.v0`). */
export const INLINE_CACHE_KEY = 'tsbuild.cache.v1';
export const CACHE_FORMAT_VERSION = 1;

/** A record as exported: the step's layer (its descriptor as the builder recorded it) and the blob that carries it. */
export interface ExportedRecord {
  layer: {
    diffID: Digest;
    /** The layer as the builder's image manifests reference it (usually the uncompressed tar). */
    descriptor: Descriptor;
    /** The blob stored beside the cache (gzip), when it differs from or stands in for `descriptor`; absent inline. */
    blob?: Descriptor;
  } | null;
  data: unknown;
  createdAt: string;
}

export interface CacheConfig {
  version: typeof CACHE_FORMAT_VERSION;
  records: Record<string, ExportedRecord>;
}

/** A record as the builder receives it from an imported cache: the blob it came in rides along for re-export. */
export type RemoteRecord = CacheRecord & { layer: (NonNullable<CacheRecord['layer']> & { blob?: Descriptor }) | null };

export class CacheFormatError extends Error {
  override name = 'CacheFormatError';
  constructor(
    message: string,
    readonly source: string,
  ) {
    super(`${source}: ${message}`);
  }
}

/** JSON with object keys sorted, so equal caches give equal bytes (and equal digests). */
export function canonicalJSON(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]]),
      );
    }
    return v;
  });
}

export interface EncodedCache {
  config: { descriptor: Descriptor; bytes: Buffer };
  manifest: { descriptor: Descriptor; bytes: Buffer };
  /** Every blob the manifest lists, once each. */
  blobs: Descriptor[];
}

export function encodeCache(records: Record<string, ExportedRecord>): EncodedCache {
  const config: CacheConfig = { version: CACHE_FORMAT_VERSION, records };
  const configBytes = Buffer.from(canonicalJSON(config));
  const configDesc: Descriptor = {
    mediaType: CACHE_CONFIG_MEDIA_TYPE,
    digest: digestOf(configBytes),
    size: configBytes.length,
  };
  const blobs = new Map<string, Descriptor>();
  for (const key of Object.keys(records).sort()) {
    const l = records[key]!.layer;
    if (!l) continue;
    const b = l.blob ?? l.descriptor;
    if (!blobs.has(b.digest)) blobs.set(b.digest, { mediaType: b.mediaType, digest: b.digest, size: b.size });
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: CACHE_CONFIG_MEDIA_TYPE,
    config: configDesc,
    layers: [...blobs.values()],
  };
  const manifestBytes = Buffer.from(canonicalJSON(manifest));
  return {
    config: { descriptor: configDesc, bytes: configBytes },
    manifest: {
      descriptor: {
        mediaType: MediaType.OciManifest,
        digest: digestOf(manifestBytes),
        size: manifestBytes.length,
        artifactType: CACHE_CONFIG_MEDIA_TYPE,
      },
      bytes: manifestBytes,
    },
    blobs: [...blobs.values()],
  };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDesc(v: unknown): v is Descriptor {
  return (
    isObj(v) &&
    typeof v.mediaType === 'string' &&
    typeof v.digest === 'string' &&
    /^sha256:[a-f0-9]{64}$/.test(v.digest) &&
    typeof v.size === 'number'
  );
}

/** Validates a decoded config (from a cache blob or an image config's inline key). */
export function decodeRecords(value: unknown, source: string): Record<string, ExportedRecord> {
  if (!isObj(value) || value.version !== CACHE_FORMAT_VERSION || !isObj(value.records)) {
    throw new CacheFormatError(`not a tsbuild cache config v${CACHE_FORMAT_VERSION}`, source);
  }
  const out: Record<string, ExportedRecord> = {};
  for (const [key, r] of Object.entries(value.records)) {
    if (!isObj(r) || typeof r.createdAt !== 'string') throw new CacheFormatError(`record ${key} is malformed`, source);
    const l = r.layer;
    if (l !== null) {
      if (
        !isObj(l) ||
        typeof l.diffID !== 'string' ||
        !isDesc(l.descriptor) ||
        (l.blob !== undefined && !isDesc(l.blob))
      ) {
        throw new CacheFormatError(`record ${key} has a malformed layer`, source);
      }
    }
    out[key] = r as unknown as ExportedRecord;
  }
  return out;
}

/** Parses a cache config blob. */
export function parseCacheConfig(bytes: Buffer, source: string): Record<string, ExportedRecord> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new CacheFormatError(`cache config is not JSON (${(e as Error).message})`, source);
  }
  return decodeRecords(v, source);
}
