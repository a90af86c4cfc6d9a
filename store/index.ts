// openStore(root): the local store (store/api.ts) over an OCI image layout plus tsbuild's own side directories
// (see store/README.md). Each concern lives in its own module; this file only wires them to the Store interface.
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { RemoteBlobOpener, RemoteBlobSource } from '../oci/index.js';
import { tee } from '../oci/index.js';
import { digestHex, isDigest } from '../oci/index.js';
import { normalizeName } from '../oci/index.js';
import { MediaType, isGzipLayer, type Descriptor, type Digest, type ImageIndex } from '../oci/index.js';
import type {
  CacheRecord,
  CommitOptions,
  CommittedLayer,
  ContainerDirs,
  ExpectedDiffID,
  ImageRecord,
  Store,
} from './api.js';
import { BlobStore } from './blobs.js';
import { CacheRecords } from './cache.js';
import { BlobNotFoundError, StoreError } from './errors.js';
import { isNotFound, tempName, writeFileAtomic } from './fsutil.js';
import { readFile } from 'node:fs/promises';
import { diffIDMismatch, LayerDirs, treeLine, writeTreeRecord } from './layers.js';
import { initLayout, readIndexFile, REF_NAME, tagsOf, updateIndex } from './layout.js';
import { LazyBlobs, needsGunzip, withLazy, type LazyRecord } from './lazy.js';
import { Leases } from './leases.js';
import { resolveImage } from './resolve.js';
import { onStoreClose, onStoreOpen } from './ops/sweep.js';

export { StoreError, DigestMismatchError, BlobNotFoundError, LayerError } from './errors.js';
export { LazyBlobError } from './lazy.js';
export type { Store } from './api.js';

function canonicalName(name: string): string {
  try {
    return normalizeName(name);
  } catch {
    throw new StoreError(`"${name}" is not a valid image name`);
  }
}

class LocalStore implements Store {
  readonly blobs: BlobStore;
  readonly layers: LayerDirs;
  readonly leases: Leases;
  readonly lazy: LazyBlobs;
  /**
   * Gzip blobs of lazy layers whose compressedLayer this process returned, by gzip digest: readable (a push) through
   * the layer's sources without a record of their own on disk.
   */
  private readonly lazyGzip = new Map<string, LazyRecord>();
  private readonly cacheRecords: CacheRecords;
  /** Downloads of lazy blobs in flight, by digest: one per blob however many readers wait. */
  private readonly fetching = new Map<string, Promise<unknown>>();

  constructor(
    readonly root: string,
    private readonly remote?: RemoteBlobOpener,
  ) {
    this.blobs = new BlobStore(root);
    this.layers = new LayerDirs(root, this.blobs.writer);
    this.leases = new Leases(root);
    this.lazy = new LazyBlobs(root);
    this.cacheRecords = new CacheRecords(root);
  }

  private readonly touch = (d: Digest): Promise<void> => this.leases.touch([d]);

  // ---- blobs
  async hasBlob(digest: Digest): Promise<boolean> {
    // whoever asks is about to rely on it (a cache hit, a pull that skips the download): lease it first
    await this.leases.touch([digest]);
    return (await this.blobs.has(digest)) || (await this.lazyRecord(digest)) !== undefined;
  }
  async writeBlob(
    src: Readable,
    expected: { digest: Digest; size?: number },
  ): Promise<{ digest: Digest; size: number }> {
    await this.leases.touch([expected.digest]);
    return this.blobs.ingest(src, expected);
  }
  async openBlob(digest: Digest): Promise<Readable> {
    await this.ensureBlob(digest);
    return this.blobs.open(digest);
  }
  async blobSize(digest: Digest): Promise<number> {
    if (!(await this.blobs.has(digest))) {
      const rec = await this.lazyRecord(digest);
      if (rec) return rec.descriptor.size;
    }
    return this.blobs.size(digest);
  }

  // ---- lazy blobs (store/lazy.ts)
  async addLazyBlob(descriptor: Descriptor, source: RemoteBlobSource): Promise<void> {
    await this.leases.touch([descriptor.digest, source.blob.digest]);
    if (await this.blobs.has(descriptor.digest)) return;
    // A source holding the layer's gzip (a registry cache) also gives its compressed form: compressedLayer reads it
    // from this record, and a push then sends or mounts that gzip blob as it is.
    await this.lazy.add(descriptor, source);
  }
  async addLazyBlobs(items: { descriptor: Descriptor; source: RemoteBlobSource }[]): Promise<void> {
    await this.leases.touch(items.flatMap((i) => [i.descriptor.digest, i.source.blob.digest]));
    const missing: typeof items = [];
    for (const i of items) if (!(await this.blobs.has(i.descriptor.digest))) missing.push(i);
    await this.lazy.addMany(missing);
  }
  lazyBlob(digest: Digest): Promise<LazyRecord | undefined> {
    return this.lazyRecord(digest);
  }
  private async lazyRecord(digest: Digest): Promise<LazyRecord | undefined> {
    return (await this.lazy.get(digest)) ?? this.lazyGzip.get(digest);
  }
  async ensureBlob(digest: Digest): Promise<void> {
    if (await this.blobs.has(digest)) return;
    const rec = await this.lazyRecord(digest);
    if (!rec) return; // the read that follows names the missing blob
    await this.once(digest, async () => {
      if (await this.blobs.has(digest)) return;
      await withLazy(rec, this.remote, (src) => this.blobs.ingest(src, { digest, size: rec.descriptor.size }));
    });
  }
  private once<T>(key: string, job: () => Promise<T>): Promise<T> {
    const running = this.fetching.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = job().finally(() => this.fetching.delete(key));
    this.fetching.set(key, p);
    return p;
  }
  blobPath(digest: Digest): string {
    return this.blobs.path(digest);
  }
  async putJSON(value: unknown, mediaType: string): Promise<Descriptor> {
    return this.putBytes(Buffer.from(JSON.stringify(value)), mediaType);
  }
  async putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor> {
    const { digest, size } = await this.blobs.putBytes(bytes, expectedDigest, this.touch);
    return { mediaType, digest, size };
  }
  async readBytes(digest: Digest): Promise<Buffer> {
    await this.ensureBlob(digest);
    return this.blobs.read(digest);
  }
  async readJSON<T>(digest: Digest): Promise<T> {
    return JSON.parse((await this.readBytes(digest)).toString('utf8')) as T;
  }

  // ---- tags and images
  async tag(name: string, target: Descriptor): Promise<void> {
    const n = canonicalName(name);
    await this.leases.touch([target.digest]);
    await updateIndex(this.root, (index) => {
      index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== n);
      const { annotations, ...rest } = target;
      index.manifests.push({ ...rest, annotations: { ...(annotations ?? {}), [REF_NAME]: n } });
    });
  }
  async untag(name: string): Promise<boolean> {
    let n: string;
    try {
      n = normalizeName(name);
    } catch {
      n = name;
    }
    return updateIndex(this.root, (index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== n);
      return index.manifests.length !== before;
    });
  }
  async resolveImage(
    ref: string,
    platform?: { os: string; architecture: string; variant?: string },
  ): Promise<ImageRecord | undefined> {
    // leased with its layers (blobs and diffIDs) before anyone uses it; resolved again if a prune came between
    return this.leases.hold(
      () => resolveImage(this.root, this.blobs, ref, platform),
      (rec) =>
        rec
          ? [
              rec.manifestDigest,
              rec.configDigest,
              ...rec.manifest.layers.map((l) => l.digest),
              ...(rec.config.rootfs?.diff_ids ?? []),
            ]
          : [],
    );
  }
  async listImages(): Promise<{ name: string; target: Descriptor }[]> {
    return tagsOf(await readIndexFile(this.root));
  }
  readIndex(digest: Digest): Promise<ImageIndex> {
    return this.readJSON<ImageIndex>(digest);
  }

  // ---- layers
  diffIDOf(layer: Descriptor): Promise<Digest | undefined> {
    return this.layers.diffIDOf(layer);
  }
  async lowerdir(diffID: Digest): Promise<string | undefined> {
    // leased before the check: a layer found unpacked stays
    await this.leases.touch([diffID]);
    if (!(await this.layers.isUnpacked(diffID))) return undefined;
    return this.layers.lowerdir(diffID);
  }
  async unpackLayer(layer: Descriptor, expectDiffID?: ExpectedDiffID): Promise<{ diffID: Digest; dir: string }> {
    await this.leases.touch([layer.digest]);
    const known = await this.knownDiffID(layer, expectDiffID);
    if (known) {
      const dir = await this.lowerdir(known);
      if (dir) return { diffID: known, dir };
    }
    if (!(await this.blobs.has(layer.digest))) {
      const rec = await this.lazyRecord(layer.digest);
      if (!rec) throw new BlobNotFoundError(layer.digest, this.blobs.path(layer.digest));
      // A lazy layer is downloaded once, into its blob and the unpacker at the same time (as a pull does).
      return this.once(`unpack ${layer.digest}`, async () => {
        if (await this.blobs.has(layer.digest)) return this.unpackLayer(layer, expectDiffID);
        let r: { diffID: Digest; dir: string } | undefined;
        await withLazy(rec, this.remote, (src) =>
          tee(
            src,
            (a) => this.blobs.ingest(a, { digest: layer.digest, size: rec.descriptor.size }),
            async (b) => (r = await this.unpackLayerStream(layer, b, expectDiffID)),
          ),
        );
        return r!;
      });
    }
    const r = await this.layers.unpackBlobFile(layer, this.blobs.path(layer.digest), known ?? expectDiffID, this.touch);
    await this.leases.touch([r.diffID]);
    return r;
  }
  async unpackLayerStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: ExpectedDiffID,
  ): Promise<{ diffID: Digest; dir: string }> {
    await this.leases.touch([layer.digest]);
    let known: Digest | undefined;
    try {
      known = await this.knownDiffID(layer, expectDiffID);
    } catch (e) {
      src.destroy();
      throw e;
    }
    if (known) {
      const dir = await this.lowerdir(known);
      if (dir) {
        src.resume();
        await new Promise<void>((res, rej) => {
          if (src.readableEnded) return res();
          src.once('end', res);
          src.once('error', rej);
        });
        return { diffID: known, dir };
      }
    }
    const r = await this.layers.unpackStream(layer, src, known ?? expectDiffID, this.touch);
    await this.leases.touch([r.diffID]);
    return r;
  }
  /**
   * The diffID this store recorded for a layer blob (it hashed the tar itself), checked against the image's. With
   * no record, the unpack checks the image's diffID (awaited only when the tar has been read).
   */
  private async knownDiffID(layer: Descriptor, expectDiffID: ExpectedDiffID | undefined): Promise<Digest | undefined> {
    const known = await this.layers.diffIDOf(layer);
    const expected = known ? await expectDiffID : undefined;
    if (known && expected && known !== expected) throw diffIDMismatch(layer, known, expected);
    return known;
  }
  async lowerdirsFor(image: ImageRecord): Promise<string[]> {
    const ids = image.config.rootfs?.diff_ids ?? [];
    const layers = image.manifest.layers;
    const out: string[] = new Array<string>(layers.length);
    // Layers still to unpack (lazy ones still to download) come in four at a time, as a pull's would.
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < layers.length; i = next++) {
        const diffID = ids[i] ?? (await this.layers.diffIDOf(layers[i]!));
        const dir = diffID ? await this.lowerdir(diffID) : undefined;
        out[i] = dir ?? (await this.unpackLayer(layers[i]!, ids[i])).dir;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return out;
  }
  async commitLayer(upperdir: string, opts: CommitOptions = {}): Promise<CommittedLayer> {
    const stats = { entries: 0 };
    // The tree record goes to a file as the walk meets each entry, in walk order (verify compares it as a set): a
    // layer's 20,000 lines never sit in the heap, which kept V8's old space ~10 MB larger for the whole commit.
    const treeTmp = tempName(join(this.root, 'tmp'), 'tree');
    const treeFd = openSync(treeTmp, 'w', 0o644);
    let pendingLines = '';
    const onStat = (rel: string, st: import('node:fs').Stats, link: string): void => {
      pendingLines += treeLine(rel, st, link) + '\n';
      if (pendingLines.length >= 1 << 16) {
        writeSync(treeFd, pendingLines);
        pendingLines = '';
      }
    };
    let treeOpen = true;
    const closeTree = (): void => {
      if (!treeOpen) return;
      treeOpen = false;
      try {
        if (pendingLines) writeSync(treeFd, pendingLines);
      } finally {
        pendingLines = '';
        closeSync(treeFd);
      }
    };
    try {
      // The layer codec loads only when a step commits or a layer is compressed: a no-op rebuild never needs it.
      const { diffChunks } = await import('./layer-tar/diff.js');
      const tar = diffChunks(
        upperdir,
        { onStat, ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}) },
        stats,
      );
      const { digest, size } = await this.blobs.ingestChunks(tar, this.touch);
      closeTree();
      const descriptor: Descriptor = { mediaType: MediaType.OciLayer, digest, size };
      if (!(await this.layers.isUnpacked(digest))) {
        const tmp = this.layers.newTempLayer();
        await mkdir(tmp, { recursive: true });
        try {
          const ours = resolve(upperdir).startsWith(join(this.root, 'run') + '/');
          if (ours) {
            // already in overlay format: move it, then leave an empty upperdir for the caller's release()
            await rename(upperdir, join(tmp, 'diff'));
            await mkdir(upperdir);
            await rename(treeTmp, join(tmp, 'tree'));
          } else {
            await mkdir(join(tmp, 'diff'));
            const { unpackTar } = await import('./layer-tar/unpack.js');
            await unpackTar(await this.blobs.open(digest), join(tmp, 'diff'), { digest });
            await writeTreeRecord(join(tmp, 'diff'), join(tmp, 'tree'));
          }
          await this.layers.install(tmp, digest);
        } catch (e) {
          await rm(tmp, { recursive: true, force: true });
          throw e;
        }
      }
      return { descriptor, diffID: digest, empty: stats.entries === 0 };
    } finally {
      closeTree();
      await rm(treeTmp, { force: true });
    }
  }
  async compressedLayer(layer: Descriptor): Promise<Descriptor> {
    if (isGzipLayer(layer.mediaType) || layer.mediaType.endsWith('+zstd')) return layer;
    const record = join(this.root, 'compressed', digestHex(layer.digest));
    try {
      const d = (await readFile(record, 'utf8')).trim();
      if (isDigest(d) && (await this.hasBlob(d))) {
        return {
          mediaType: MediaType.OciLayerGzip,
          digest: d,
          size: await this.blobSize(d),
          ...(layer.annotations ? { annotations: layer.annotations } : {}),
        };
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    // A layer that came lazily from a registry cache: that cache's gzip blob is its compressed form (the digest the
    // exporting machine pushed), whether or not the layer was downloaded since.
    const lazy = await this.lazy.get(layer.digest);
    const gzSources = (lazy?.sources ?? []).filter((s) => needsGunzip(layer, s));
    const gz = gzSources[0]?.blob;
    if (gz) {
      await this.leases.touch([gz.digest]);
      if (!(await this.blobs.has(gz.digest)))
        this.lazyGzip.set(gz.digest, {
          descriptor: { ...gz },
          sources: gzSources.filter((s) => s.blob.digest === gz.digest),
        });
      return { ...gz, ...(layer.annotations ? { annotations: layer.annotations } : {}) };
    }
    await this.ensureBlob(layer.digest);
    if (!(await this.blobs.has(layer.digest))) throw new BlobNotFoundError(layer.digest, this.blobs.path(layer.digest));
    const { parallelGzipFile } = await import('./layer-tar/gzip.js');
    const { digest, size } = await this.blobs.ingestChunks(
      parallelGzipFile(this.blobs.path(layer.digest), { expect: { digest: layer.digest, size: layer.size } }),
      this.touch,
    );
    await this.layers.recordDiffID(digest, layer.digest);
    await writeFileAtomic(record, digest);
    return {
      mediaType: MediaType.OciLayerGzip,
      digest,
      size,
      ...(layer.annotations ? { annotations: layer.annotations } : {}),
    };
  }

  // ---- cache, containers, leases
  getCache(key: string): Promise<CacheRecord | undefined> {
    return this.cacheRecords.get(key);
  }
  async putCache(key: string, record: CacheRecord): Promise<void> {
    await this.cacheRecords.put(key, record);
  }
  async putCaches(entries: [string, CacheRecord][]): Promise<void> {
    await this.cacheRecords.putMany(entries);
  }
  async containerDirs(): Promise<ContainerDirs> {
    const dir = join(this.root, 'run', `${process.pid}-${randomBytes(6).toString('hex')}`);
    const upperdir = join(dir, 'upper');
    const workdir = join(dir, 'work');
    await mkdir(upperdir, { recursive: true });
    await mkdir(workdir);
    return { upperdir, workdir, release: () => rm(dir, { recursive: true, force: true }) };
  }
  lease(digests: Digest[]): Promise<() => Promise<void>> {
    return this.leases.lease(digests);
  }
  async close(): Promise<void> {
    this.remote?.close();
    await this.leases.close();
    await this.blobs.close();
    await onStoreClose(this.root);
  }
}

export type LocalStoreHandle = LocalStore;

export interface OpenStoreOptions {
  /** Fetches lazy blobs recorded with a registry source; without it, reading such a blob fails with LazyBlobError. */
  remote?: RemoteBlobOpener;
}

/** Opens (creating when missing) the store at `root`. */
export async function openStore(
  root: string,
  opts: OpenStoreOptions = {},
): Promise<Store & { readonly blobs: BlobStore; readonly layers: LayerDirs; readonly lazy: LazyBlobs }> {
  const abs = resolve(root);
  try {
    await initLayout(abs);
  } catch (e) {
    throw new StoreError(`cannot open the store at ${abs}: ${(e as Error).message}`, { path: abs, cause: e });
  }
  await onStoreOpen(abs);
  return new LocalStore(abs, opts.remote);
}
export {
  type CacheRecord,
  type CommitOptions,
  type CommittedLayer,
  type ContainerDirs,
  type ExpectedDiffID,
  type ImageRecord,
} from './api.js';
export { unpackTar } from './layer-tar/unpack.js';
export { S_IFCHR, mknod } from './xattr.js';

/** The maintenance operations (store/ops/), loaded on first use: a build never needs them. */
export const storeOps = (): Promise<typeof import('./ops/index.js')> => import('./ops/index.js');
