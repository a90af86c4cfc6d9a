// The store as the builder sees it during a build with --cache-from/--cache-to: every method is the real store's,
// except that (1) a cache lookup that misses locally falls through to the imported remote cache, (2) a layer of a
// remote hit counts as present and is fetched from the cache the first time anything reads it (a RUN that needs
// the filesystem, tagging, pushing or exporting the image), and (3) every record the build uses is remembered,
// for --cache-to. The builder's code is unchanged: it sees a Store.
import type { Readable } from 'node:stream';
import type { RemoteBlobSource } from '../../oci/index.js';
import type { Descriptor, Digest, ImageIndex, ImageManifest, Platform } from '../../oci/index.js';
import { isIndexMediaType } from '../../oci/index.js';
import type {
  CacheRecord,
  CommitOptions,
  CommittedLayer,
  ContainerDirs,
  ExpectedDiffID,
  ImageRecord,
  Store,
} from '../../store/index.js';
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

  constructor(
    readonly inner: Store,
    readonly remote: RemoteCache | undefined,
  ) {}

  get root(): string {
    return this.inner.root;
  }

  // --- the cache -------------------------------------------------------------------------------------------------

  async getCache(key: string): Promise<CacheRecord | undefined> {
    const local = await this.inner.getCache(key);
    if (local && (local.layer === null || (await this.hasBlob(local.layer.descriptor.digest)))) {
      this.used.set(key, local);
      return local;
    }
    const rec = await this.remote?.lookup(key);
    if (!rec) return local;
    if (rec.layer?.blob) {
      this.remoteBlobs.set(rec.layer.descriptor.digest, rec.layer.blob);
      this.blobsByDigest.set(rec.layer.blob.digest, rec.layer.blob);
    }
    if (rec.layer && !(await this.inner.hasBlob(rec.layer.descriptor.digest)))
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

  async putCache(key: string, record: CacheRecord): Promise<void> {
    await this.inner.putCache(key, record);
    this.used.set(key, record);
  }
  putCaches(entries: [string, CacheRecord][]): Promise<void> {
    return this.inner.putCaches(entries);
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
    await this.inner.putCaches(this.remoteHits.splice(0)).catch(() => undefined);
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
    await this.inner.addLazyBlobs(items);
    for (const i of items) this.pending.delete(i.descriptor.digest);
  }

  /** Brings every layer of an image (a manifest or an index) that is still only in the remote cache into the store. */
  async ensureImage(target: Descriptor): Promise<void> {
    await this.ensureManifest(target);
  }

  private async ensureManifest(target: Descriptor): Promise<void> {
    if (this.pending.size === 0) return;
    if (isIndexMediaType(target.mediaType)) {
      const index = await this.inner.readJSON<ImageIndex>(target.digest);
      for (const m of index.manifests) await this.ensureManifest(m);
      return;
    }
    const manifest = await this.inner.readJSON<ImageManifest>(target.digest);
    await Promise.all((manifest.layers ?? []).map((l) => this.ensure(l.digest)));
  }

  // --- blobs -----------------------------------------------------------------------------------------------------

  async hasBlob(digest: Digest): Promise<boolean> {
    return this.pending.has(digest) || this.blobsByDigest.has(digest) || this.inner.hasBlob(digest);
  }
  writeBlob(src: Readable, expected: { digest: Digest; size?: number }): Promise<{ digest: Digest; size: number }> {
    return this.inner.writeBlob(src, expected);
  }
  async openBlob(digest: Digest): Promise<Readable> {
    await this.ensure(digest);
    const blob = this.blobsByDigest.get(digest);
    if (blob && this.remote && !(await this.inner.hasBlob(digest))) return this.remote.openBlob(blob);
    return this.inner.openBlob(digest);
  }
  async blobSize(digest: Digest): Promise<number> {
    const layer = this.pending.get(digest)?.layer;
    if (layer) return layer.descriptor.size;
    const blob = this.blobsByDigest.get(digest);
    if (blob && !(await this.inner.hasBlob(digest))) return blob.size;
    return this.inner.blobSize(digest);
  }
  putJSON(value: unknown, mediaType: string): Promise<Descriptor> {
    return this.inner.putJSON(value, mediaType);
  }
  putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor> {
    return this.inner.putBytes(bytes, mediaType, expectedDigest);
  }
  async readBytes(digest: Digest): Promise<Buffer> {
    await this.ensure(digest);
    if (this.blobsByDigest.has(digest) && !(await this.inner.hasBlob(digest))) {
      const chunks: Buffer[] = [];
      for await (const c of await this.openBlob(digest)) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    }
    return this.inner.readBytes(digest);
  }
  readJSON<T>(digest: Digest): Promise<T> {
    return this.inner.readJSON<T>(digest);
  }
  addLazyBlob(descriptor: Descriptor, source: RemoteBlobSource): Promise<void> {
    return this.inner.addLazyBlob(descriptor, source);
  }
  addLazyBlobs(items: { descriptor: Descriptor; source: RemoteBlobSource }[]): Promise<void> {
    return this.inner.addLazyBlobs(items);
  }
  async ensureBlob(digest: Digest): Promise<void> {
    await this.ensure(digest);
    return this.inner.ensureBlob(digest);
  }
  lazyBlob(digest: Digest): Promise<{ descriptor: Descriptor; sources: RemoteBlobSource[] } | undefined> {
    return this.inner.lazyBlob(digest);
  }
  blobPath(digest: Digest): string {
    return this.inner.blobPath(digest);
  }

  // --- images ----------------------------------------------------------------------------------------------------

  async tag(name: string, target: Descriptor): Promise<void> {
    // An image in the store is complete: its layers come in before its name does.
    await this.ensureManifest(target);
    return this.inner.tag(name, target);
  }
  untag(name: string): Promise<boolean> {
    return this.inner.untag(name);
  }
  resolveImage(ref: string, platform?: Platform): Promise<ImageRecord | undefined> {
    return this.inner.resolveImage(ref, platform);
  }
  listImages(): Promise<{ name: string; target: Descriptor }[]> {
    return this.inner.listImages();
  }
  readIndex(digest: Digest): Promise<ImageIndex> {
    return this.inner.readIndex(digest);
  }

  // --- layers ----------------------------------------------------------------------------------------------------

  async unpackLayer(layer: Descriptor, expectDiffID?: ExpectedDiffID): Promise<{ diffID: Digest; dir: string }> {
    await this.ensure(layer.digest);
    return this.inner.unpackLayer(layer, expectDiffID);
  }
  unpackLayerStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: ExpectedDiffID,
  ): Promise<{ diffID: Digest; dir: string }> {
    return this.inner.unpackLayerStream(layer, src, expectDiffID);
  }
  lowerdir(diffID: Digest): Promise<string | undefined> {
    return this.inner.lowerdir(diffID);
  }
  async lowerdirsFor(image: ImageRecord): Promise<string[]> {
    await Promise.all(image.manifest.layers.map((l) => this.ensure(l.digest)));
    return this.inner.lowerdirsFor(image);
  }
  commitLayer(upperdir: string, opts?: CommitOptions): Promise<CommittedLayer> {
    return this.inner.commitLayer(upperdir, opts);
  }
  async compressedLayer(layer: Descriptor): Promise<Descriptor> {
    // The cache's gzip blob is the compressed layer: no recompression, the digest the exporting machine pushed, and
    // its bytes are read from the remote cache (openBlob above) when the push needs them.
    const blob = this.remoteBlobs.get(layer.digest);
    if (blob) return { ...blob };
    return this.inner.compressedLayer(layer);
  }
  async diffIDOf(layer: Descriptor): Promise<Digest | undefined> {
    const rec = this.pending.get(layer.digest);
    if (rec?.layer) return rec.layer.diffID;
    return this.inner.diffIDOf(layer);
  }

  // --- the rest --------------------------------------------------------------------------------------------------

  containerDirs(): Promise<ContainerDirs> {
    return this.inner.containerDirs();
  }
  lease(digests: Digest[]): Promise<() => Promise<void>> {
    return this.inner.lease(digests);
  }
  async close(): Promise<void> {
    this.remote?.close();
    await this.inner.close();
  }
}
