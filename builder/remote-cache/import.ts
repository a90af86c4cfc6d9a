// importCache: the records of every --cache-from source, merged (the first source that has a key wins), and
// lazily fetched layers: a hit costs nothing until ensureLayer brings its blob into the store (and unpacks it).
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import PQueue from 'p-queue';
import type { RemoteBlobSource } from '../../oci/index.js';
import type { Descriptor, Digest } from '../../oci/index.js';
import { isGzipLayer, MediaType } from '../../oci/index.js';
import type { RegistryOptions } from '../../registry-client/index.js';
import type { CacheRecord, Store } from '../../store/index.js';
import type { CacheReader } from './backend.js';
import type { ExportedRecord, RemoteRecord } from './format.js';
import { localReader } from './local.js';
import { registryReader } from './registry.js';
import { describeSpec, type CacheSpec } from './spec.js';

export interface RemoteCache {
  /** The imported record for a key (its layer carries the remote `blob`), or undefined. */
  lookup(key: string): Promise<RemoteRecord | undefined>;
  /** Brings the record's layer blob into the store (once, however many callers) and unpacks it unless told not to. */
  ensureLayer(record: CacheRecord, opts?: { unpack?: boolean }): Promise<void>;
  /** Whether `digest` is a layer (or its blob) of an imported record. */
  knowsBlob(digest: Digest): boolean;
  /** Streams a blob of an imported record (its gzip blob, say) straight from the cache it came from. */
  openBlob(blob: Descriptor): Promise<Readable>;
  /**
   * Where an imported layer (by its digest) stays fetchable after the build, for a lazy blob; undefined: copy it now.
   */
  sourceOf(layer: Digest): RemoteBlobSource | undefined;
  /** Records imported, per source, for messages. */
  readonly sources: { spec: string; records: number }[];
  close(): void;
}

export class RemoteCacheError extends Error {
  override name = 'RemoteCacheError';
  constructor(
    message: string,
    readonly source: string,
    readonly digest?: string,
  ) {
    super(message);
  }
}

interface Entry {
  record: ExportedRecord;
  reader: CacheReader;
  source: string;
}

async function readerFor(spec: CacheSpec, registryOpts: RegistryOptions): Promise<CacheReader | undefined> {
  if (spec.type === 'registry') return registryReader(spec.ref, registryOpts);
  if (spec.type === 'local') return localReader(spec.src ?? spec.dest!, spec.tag);
  return undefined;
}

export async function importCache(
  specs: CacheSpec[],
  store: Store,
  registryOpts: RegistryOptions = {},
  opts: { onWarn?: (message: string) => void } = {},
): Promise<RemoteCache> {
  const loaded = await Promise.all(
    specs.map(async (spec) => {
      const source = describeSpec(spec);
      let reader: CacheReader | undefined;
      try {
        reader = await readerFor(spec, registryOpts);
        if (!reader) {
          opts.onWarn?.(`--cache-from ${spec.text}: type=inline is read through type=registry,ref=IMAGE`);
          return undefined;
        }
        const records = await reader.load();
        if (!records) opts.onWarn?.(`--cache-from ${source}: no cache found there yet`);
        return { spec, source, reader, records: records ?? {} };
      } catch (e) {
        reader?.close();
        // A cache that cannot be read only makes the build slower; it never fails it.
        opts.onWarn?.(`--cache-from ${source}: ignored: ${(e as Error).message}`);
        return undefined;
      }
    }),
  );
  const byKey = new Map<string, Entry>();
  const byDigest = new Map<string, Entry>();
  const sources: { spec: string; records: number }[] = [];
  for (const l of loaded) {
    if (!l) continue;
    sources.push({ spec: l.source, records: Object.keys(l.records).length });
    for (const [key, record] of Object.entries(l.records)) {
      if (byKey.has(key)) continue;
      const e = { record, reader: l.reader, source: l.source };
      byKey.set(key, e);
      if (record.layer) {
        if (!byDigest.has(record.layer.descriptor.digest)) byDigest.set(record.layer.descriptor.digest, e);
        if (record.layer.blob && !byDigest.has(record.layer.blob.digest)) byDigest.set(record.layer.blob.digest, e);
      }
    }
  }
  const inflight = new Map<string, Promise<void>>();
  const downloads = new PQueue({ concurrency: Math.max(1, registryOpts.concurrency ?? 8) });

  /** Downloads the layer's blob into the store as the layer itself: a gzip blob is gunzipped on the way in. */
  async function fetchInto(e: Entry, desc: Descriptor): Promise<void> {
    if (await store.blobs.has(desc.digest)) return;
    const blob = e.record.layer?.blob ?? desc;
    const src = await e.reader.openBlob(blob);
    if (blob.digest === desc.digest) {
      await store.blobs.put(src, { digest: desc.digest, size: desc.size });
      return;
    }
    const uncompressed = desc.mediaType === MediaType.OciLayer || desc.mediaType === MediaType.DockerLayer;
    if (!uncompressed || !isGzipLayer(blob.mediaType)) {
      src.destroy();
      throw new RemoteCacheError(
        `cannot turn blob ${blob.digest} (${blob.mediaType}) into layer ${desc.digest} (${desc.mediaType})`,
        e.source,
        desc.digest,
      );
    }
    // The uncompressed digest (checked by writeBlob) is the layer's identity; the gzip bytes need no second copy.
    const gunzip = createGunzip();
    src.on('error', (err) => gunzip.destroy(err));
    src.pipe(gunzip);
    await store.blobs.put(gunzip, { digest: desc.digest, size: desc.size });
  }

  return {
    sources,
    async lookup(key: string): Promise<RemoteRecord | undefined> {
      const e = byKey.get(key);
      if (!e) return undefined;
      const r = e.record;
      return {
        layer: r.layer
          ? {
              diffID: r.layer.diffID,
              descriptor: { ...r.layer.descriptor },
              ...(r.layer.blob ? { blob: { ...r.layer.blob } } : {}),
            }
          : null,
        data: r.data,
        createdAt: r.createdAt,
      };
    },
    knowsBlob: (digest: Digest) => byDigest.has(digest),
    sourceOf(layer: Digest): RemoteBlobSource | undefined {
      const e = byDigest.get(layer);
      const l = e?.record.layer;
      if (!e || !l || l.descriptor.digest !== layer) return undefined;
      return e.reader.sourceOf?.(l.blob ?? l.descriptor);
    },
    async openBlob(blob: Descriptor): Promise<Readable> {
      const e = byDigest.get(blob.digest);
      if (!e) throw new RemoteCacheError(`blob ${blob.digest} is in no imported cache`, '', blob.digest);
      return e.reader.openBlob(blob);
    },
    async ensureLayer(record: CacheRecord, o: { unpack?: boolean } = {}): Promise<void> {
      const layer = record.layer;
      if (!layer) return;
      const e = byDigest.get(layer.descriptor.digest);
      if (e) {
        let p = inflight.get(layer.descriptor.digest);
        if (!p) {
          p = downloads.add(() => fetchInto(e, layer.descriptor), { throwOnTimeout: true }) as Promise<void>;
          inflight.set(layer.descriptor.digest, p);
          p.catch(() => inflight.delete(layer.descriptor.digest));
        }
        try {
          await p;
        } catch (err) {
          throw new RemoteCacheError(
            `fetching layer ${layer.descriptor.digest} from ${e.source} failed: ${(err as Error).message}`,
            e.source,
            layer.descriptor.digest,
          );
        }
      } else if (!(await store.blobs.has(layer.descriptor.digest))) {
        throw new RemoteCacheError(
          `layer ${layer.descriptor.digest} is in no imported cache`,
          '',
          layer.descriptor.digest,
        );
      }
      if (o.unpack ?? true) await store.layers.unpack(layer.descriptor);
    },
    close(): void {
      for (const l of loaded) l?.reader.close();
    },
  };
}

/**
 * A RemoteCache that is still loading: every call waits for `loading`, so the import (a few registry round trips)
 * overlaps the build's own start (Buildfile, context, base image pull) instead of preceding it.
 */
export function deferredRemoteCache(loading: Promise<RemoteCache>): RemoteCache {
  let ready: RemoteCache | undefined;
  const p = loading.then((r) => (ready = r));
  p.catch(() => undefined);
  return {
    get sources() {
      return ready?.sources ?? [];
    },
    lookup: async (key) => (await p).lookup(key),
    ensureLayer: async (record, o) => (await p).ensureLayer(record, o),
    knowsBlob: (digest) => ready?.knowsBlob(digest) ?? false,
    sourceOf: (layer) => ready?.sourceOf(layer),
    openBlob: async (blob) => (await p).openBlob(blob),
    close: () =>
      void p.then(
        (r) => r.close(),
        () => undefined,
      ),
  };
}
