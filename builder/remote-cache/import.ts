// importCache: the records of every --cache-from source, merged (the first source that has a key wins), and
// lazily fetched layers: a hit costs nothing until ensureLayer brings its blob into the store (and unpacks it).
import { createGunzip } from 'node:zlib';
import PQueue from 'p-queue';
import type { Descriptor, Digest } from '../../oci/types.js';
import { isGzipLayer, MediaType } from '../../oci/types.js';
import type { RegistryOptions } from '../../registry-client/options.js';
import type { CacheRecord, Store } from '../../store/api.js';
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
  const downloads = new PQueue({ concurrency: Math.max(1, registryOpts.concurrency ?? 4) });

  async function fetchInto(e: Entry, desc: Descriptor): Promise<void> {
    if (await store.hasBlob(desc.digest)) return;
    const blob = e.record.layer?.blob ?? desc;
    if (blob.digest === desc.digest) {
      await store.writeBlob(await e.reader.openBlob(blob), { digest: desc.digest, size: desc.size });
      return;
    }
    if (!(await store.hasBlob(blob.digest))) await store.writeBlob(await e.reader.openBlob(blob), { digest: blob.digest, size: blob.size });
    const uncompressed = desc.mediaType === MediaType.OciLayer || desc.mediaType === MediaType.DockerLayer;
    if (!uncompressed || !isGzipLayer(blob.mediaType)) {
      throw new RemoteCacheError(`cannot turn blob ${blob.digest} (${blob.mediaType}) into layer ${desc.digest} (${desc.mediaType})`, e.source, desc.digest);
    }
    // The gzip blob stays in the store too: a later push or re-export of the cache finds it there.
    const src = await store.openBlob(blob.digest);
    const gunzip = createGunzip();
    src.on('error', (err) => gunzip.destroy(err));
    src.pipe(gunzip);
    await store.writeBlob(gunzip, { digest: desc.digest, size: desc.size });
  }

  return {
    sources,
    async lookup(key: string): Promise<RemoteRecord | undefined> {
      const e = byKey.get(key);
      if (!e) return undefined;
      const r = e.record;
      return {
        layer: r.layer ? { diffID: r.layer.diffID, descriptor: { ...r.layer.descriptor }, ...(r.layer.blob ? { blob: { ...r.layer.blob } } : {}) } : null,
        data: r.data,
        createdAt: r.createdAt,
      };
    },
    knowsBlob: (digest: Digest) => byDigest.has(digest),
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
          throw new RemoteCacheError(`fetching layer ${layer.descriptor.digest} from ${e.source} failed: ${(err as Error).message}`, e.source, layer.descriptor.digest);
        }
      } else if (!(await store.hasBlob(layer.descriptor.digest))) {
        throw new RemoteCacheError(`layer ${layer.descriptor.digest} is in no imported cache`, '', layer.descriptor.digest);
      }
      if (o.unpack ?? true) await store.unpackLayer(layer.descriptor);
    },
    close(): void {
      for (const l of loaded) l?.reader.close();
    },
  };
}
