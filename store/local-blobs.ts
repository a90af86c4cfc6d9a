// The local store's Blobs (store/api.ts): blobs/sha256 (blobs.ts) plus the lazy records (lazy.ts), with every digest
// leased (leases.ts) before it is checked or placed.
import type { Readable } from 'node:stream';
import type { Descriptor, Digest, RemoteBlobOpener, RemoteBlobSource } from '../oci/index.js';
import type { Blobs } from './api.js';
import type { BlobStore } from './blobs.js';
import { LazyBlobs, withLazy, type LazyRecord } from './lazy.js';
import type { Leases } from './leases.js';

export class LocalBlobs implements Blobs {
  readonly lazy: LazyBlobs;
  /**
   * Gzip blobs of lazy layers whose compressed form this process returned, by gzip digest: readable (a push) through
   * the layer's sources without a record of their own on disk (LocalLayers.compressed adds them).
   */
  readonly lazyGzip = new Map<string, LazyRecord>();
  /** Downloads of lazy blobs in flight, by digest: one per blob however many readers wait. */
  private readonly fetching = new Map<string, Promise<unknown>>();

  constructor(
    root: string,
    readonly files: BlobStore,
    private readonly leases: Leases,
    readonly remote?: RemoteBlobOpener,
  ) {
    this.lazy = new LazyBlobs(root);
  }

  readonly touch = (d: Digest): Promise<void> => this.leases.touch([d]);

  allPlaced(): Promise<void> {
    return this.files.allPlaced();
  }

  async has(digest: Digest): Promise<boolean> {
    // whoever asks is about to rely on it (a cache hit, a pull that skips the download): lease it first
    await this.leases.touch([digest]);
    return (await this.files.has(digest)) || (await this.lazySource(digest)) !== undefined;
  }
  async put(src: Readable, expected?: { digest: Digest; size?: number }): Promise<{ digest: Digest; size: number }> {
    if (!expected) return this.files.ingest(src, undefined, this.touch);
    await this.leases.touch([expected.digest]);
    return this.files.ingest(src, expected);
  }
  async open(digest: Digest): Promise<Readable> {
    await this.fetch(digest);
    return this.files.open(digest);
  }
  async size(digest: Digest): Promise<number> {
    if (!(await this.files.has(digest))) {
      const rec = await this.lazySource(digest);
      if (rec) return rec.descriptor.size;
    }
    return this.files.size(digest);
  }
  path(digest: Digest): string {
    return this.files.path(digest);
  }
  async putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor> {
    const { digest, size } = await this.files.putBytes(bytes, expectedDigest, this.touch);
    return { mediaType, digest, size };
  }
  async read(digest: Digest): Promise<Buffer> {
    await this.fetch(digest);
    return this.files.read(digest);
  }

  // ---- lazy blobs (store/lazy.ts)
  async addLazy(items: { descriptor: Descriptor; source: RemoteBlobSource }[]): Promise<void> {
    await this.leases.touch(items.flatMap((i) => [i.descriptor.digest, i.source.blob.digest]));
    const missing: typeof items = [];
    for (const i of items) if (!(await this.files.has(i.descriptor.digest))) missing.push(i);
    // one blob (a lazy pull records each layer as it meets it) is one record file; a batch is one file linked
    if (items.length === 1) {
      if (missing[0]) await this.lazy.add(missing[0].descriptor, missing[0].source);
    } else await this.lazy.addMany(missing);
  }
  async lazySource(digest: Digest): Promise<LazyRecord | undefined> {
    return (await this.lazy.get(digest)) ?? this.lazyGzip.get(digest);
  }
  async fetch(digest: Digest): Promise<void> {
    if (await this.files.has(digest)) return;
    const rec = await this.lazySource(digest);
    if (!rec) return; // the read that follows names the missing blob
    await this.once(digest, async () => {
      if (await this.files.has(digest)) return;
      await withLazy(rec, this.remote, (src) => this.files.ingest(src, { digest, size: rec.descriptor.size }));
    });
  }
  once<T>(key: string, job: () => Promise<T>): Promise<T> {
    const running = this.fetching.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = job().finally(() => this.fetching.delete(key));
    this.fetching.set(key, p);
    return p;
  }
}
