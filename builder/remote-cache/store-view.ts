// The store as the builder sees it during a build with --cache-from/--cache-to: the real store's parts, wrapped so
// that (1) a cache lookup that misses locally falls through to the imported remote cache, (2) a layer of a remote hit
// counts as present and is fetched from the cache the first time anything reads it (a RUN that needs the
// filesystem, tagging, pushing or exporting the image), and (3) every record the build uses is remembered, for
// --cache-to. The builder's code is unchanged: it sees a Store. Each wrapper names only the members it intercepts;
// decorate() passes the rest through.
import type { Readable } from 'node:stream';
import type { RemoteBlobSource } from '../../oci/index.js';
import type { Descriptor, Digest, ImageIndex, ImageManifest } from '../../oci/index.js';
import { isIndexMediaType } from '../../oci/index.js';
import type { Blobs, CacheRecord, CacheRecords, ContainerDirs, Images, Layers, Store } from '../../store/index.js';
import { readJSON } from '../../store/index.js';
import { decorate } from './decorate.js';
import type { RemoteCache } from './import.js';

export class RemoteCacheStore implements Store {
  /** Records this build looked up or wrote, by key, in first-use order. */
  readonly used = new Map<string, CacheRecord>();
  /** Layers of remote hits not yet in the store, by layer digest. */
  private readonly pending = new Map<string, CacheRecord>();
  /** The cache's blob (gzip) of each remote hit's layer, by layer digest: the compressed layer, already made. */
  private readonly remoteBlobs = new Map<string, Descriptor>();
  /** The same blobs by their own digest: served straight from the remote cache (a push or re-export reads them). */
  private readonly blobsByDigest = new Map<string, Descriptor>();
  /** Remote hits, for the local cache (rememberRemoteHits). */
  private readonly remoteHits: [string, CacheRecord][] = [];

  readonly root: string;
  readonly blobs: Blobs;
  readonly images: Images;
  readonly layers: Layers;
  readonly cache: CacheRecords;

  constructor(
    readonly inner: Store,
    readonly remote: RemoteCache | undefined,
  ) {
    this.root = inner.root;
    this.blobs = this.wrapBlobs(inner.blobs);
    this.images = this.wrapImages(inner.images);
    this.layers = this.wrapLayers(inner.layers);
    this.cache = this.wrapCache(inner.cache);
  }

  // --- the cache: a local miss falls through to the remote cache; every record used is remembered ----------------

  private wrapCache(inner: CacheRecords): CacheRecords {
    return decorate(inner, {
      get: (key) => this.getCache(key),
      // an imported cache may hold any key
      holdsNone: async () => this.remote === undefined && (await inner.holdsNone()),
      put: async (key, record) => {
        await inner.put(key, record);
        this.used.set(key, record);
      },
    });
  }

  private async getCache(key: string): Promise<CacheRecord | undefined> {
    const local = await this.inner.cache.get(key);
    if (local && (local.layer === null || (await this.blobs.has(local.layer.descriptor.digest)))) {
      this.used.set(key, local);
      return local;
    }
    const rec = await this.remote?.lookup(key);
    if (!rec) return local;
    if (rec.layer?.blob) {
      this.remoteBlobs.set(rec.layer.descriptor.digest, rec.layer.blob);
      this.blobsByDigest.set(rec.layer.blob.digest, rec.layer.blob);
    }
    if (rec.layer && !(await this.inner.blobs.has(rec.layer.descriptor.digest)))
      this.pending.set(rec.layer.descriptor.digest, rec);
    this.used.set(key, rec);
    this.remoteHits.push([
      key,
      {
        layer: rec.layer ? { diffID: rec.layer.diffID, descriptor: rec.layer.descriptor } : null,
        data: rec.data,
        createdAt: rec.createdAt,
      },
    ]);
    return rec;
  }

  /** Fetches the layer behind `digest` if it is a remote hit not yet in the store. */
  private async ensure(digest: Digest, unpack = false): Promise<void> {
    const rec = this.pending.get(digest);
    if (!rec || !this.remote) return;
    await this.remote.ensureLayer(rec, { unpack });
    this.pending.delete(rec.layer!.descriptor.digest);
  }

  private hitsRecorded: Promise<void> | undefined;

  /** recordLazyHits and rememberRemoteHits, once (the first call starts them; later ones wait for the same). */
  recordHits(): Promise<void> {
    return (this.hitsRecorded ??= Promise.all([this.recordLazyHits(), this.rememberRemoteHits()]).then(
      () => undefined,
    ));
  }

  /**
   * Writes this build's remote hits to the local cache (in one batch), so the next build on this machine hits
   * without the remote cache (the local lookup still checks that the layer blob is there). Best effort.
   */
  async rememberRemoteHits(): Promise<void> {
    await this.inner.cache.putMany(this.remoteHits.splice(0)).catch(() => undefined);
  }

  /**
   * After the build: the layers of remote hits that nothing read stay where they are — recorded in the store as lazy
   * blobs of their registry cache, all in one durable write, fetched the first time something reads them (`tsbuild
   * run`, save, push). Those from a cache with no lasting source (a local directory) stay pending: ensureImage
   * copies in the final image's.
   */
  async recordLazyHits(): Promise<void> {
    const items: { descriptor: Descriptor; source: RemoteBlobSource }[] = [];
    for (const rec of this.pending.values()) {
      const source = this.remote?.sourceOf(rec.layer!.descriptor.digest);
      if (source) items.push({ descriptor: rec.layer!.descriptor, source });
    }
    await this.inner.blobs.addLazy(items);
    for (const i of items) this.pending.delete(i.descriptor.digest);
  }

  /** Brings every layer of an image (a manifest or an index) that is still only in the remote cache into the store. */
  async ensureImage(target: Descriptor): Promise<void> {
    await this.ensureManifest(target);
  }

  private async ensureManifest(target: Descriptor): Promise<void> {
    if (this.pending.size === 0) return;
    if (isIndexMediaType(target.mediaType)) {
      const index = await readJSON<ImageIndex>(this.inner.blobs, target.digest);
      for (const m of index.manifests) await this.ensureManifest(m);
      return;
    }
    const manifest = await readJSON<ImageManifest>(this.inner.blobs, target.digest);
    await Promise.all((manifest.layers ?? []).map((l) => this.ensure(l.digest)));
  }

  // --- blobs: a remote hit's layer is present, and read from the remote cache until it is fetched ----------------

  private wrapBlobs(inner: Blobs): Blobs {
    const remoteOnly = async (d: Digest): Promise<Descriptor | undefined> => {
      const blob = this.blobsByDigest.get(d);
      return blob && !(await inner.has(d)) ? blob : undefined;
    };
    const open = async (d: Digest): Promise<Readable> => {
      await this.ensure(d);
      const blob = this.blobsByDigest.get(d);
      if (blob && this.remote && !(await inner.has(d))) return this.remote.openBlob(blob);
      return inner.open(d);
    };
    return decorate(inner, {
      has: async (d) => this.pending.has(d) || this.blobsByDigest.has(d) || inner.has(d),
      size: async (d) => {
        const layer = this.pending.get(d)?.layer;
        if (layer) return layer.descriptor.size;
        return (await remoteOnly(d))?.size ?? inner.size(d);
      },
      open,
      read: async (d) => {
        await this.ensure(d);
        if (!(await remoteOnly(d))) return inner.read(d);
        const chunks: Buffer[] = [];
        for await (const c of await open(d)) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      },
      fetch: async (d) => {
        await this.ensure(d);
        return inner.fetch(d);
      },
    });
  }

  // --- images: an image in the store is complete, its layers come in before its name does ------------------------

  private wrapImages(inner: Images): Images {
    return decorate(inner, {
      tag: async (name, target) => {
        await this.ensureManifest(target);
        return inner.tag(name, target);
      },
    });
  }

  // --- layers: a remote hit's layer is fetched before it is unpacked; its cache blob is its compressed form -------

  private wrapLayers(inner: Layers): Layers {
    return decorate(inner, {
      unpack: async (layer, expectDiffID) => {
        await this.ensure(layer.digest);
        return inner.unpack(layer, expectDiffID);
      },
      lowerdirsFor: async (image) => {
        await Promise.all(image.manifest.layers.map((l) => this.ensure(l.digest)));
        return inner.lowerdirsFor(image);
      },
      // The cache's gzip blob is the compressed layer: no recompression, the digest the exporting machine pushed,
      // and its bytes are read from the remote cache (blobs.open above) when the push needs them. Another
      // compression (zstd, a gzip level) is made from the layer itself, fetched first.
      compressed: async (layer, compression) => {
        const blob = this.remoteBlobs.get(layer.digest);
        const gzip = !compression || (compression.type === 'gzip' && compression.level === undefined);
        if (blob && gzip) return { ...blob };
        if (blob) await this.ensure(layer.digest);
        return inner.compressed(layer, compression);
      },
      diffIDOf: async (layer) => this.pending.get(layer.digest)?.layer?.diffID ?? inner.diffIDOf(layer),
    });
  }

  // --- the rest --------------------------------------------------------------------------------------------------

  containerDirs(): Promise<ContainerDirs> {
    return this.inner.containerDirs();
  }
  lease(digests: Digest[]): Promise<() => Promise<void>> {
    return this.inner.lease(digests);
  }
  use(names: string[]): Promise<void> {
    return this.inner.use(names);
  }
  async close(): Promise<void> {
    this.remote?.close();
    await this.inner.close();
  }
}
