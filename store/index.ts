// openStore(root): the local store (store/api.ts) over an OCI image layout plus tsbuild's own side directories
// (see store/README.md). Each concern lives in its own module; this file only composes them into a Store.
import { checkOverlayXattrs } from './overlay-xattrs.js';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Digest, RemoteBlobOpener } from '../oci/index.js';
import type { ContainerDirs, Store } from './api.js';
import { BlobStore } from './blobs.js';
import { CacheDir } from './cache.js';
import { StoreError } from './errors.js';
import { LayerDirs } from './layers.js';
import { initLayout } from './layout.js';
import { Leases } from './leases.js';
import { LocalBlobs } from './local-blobs.js';
import { LocalImages } from './local-images.js';
import { LocalLayers } from './local-layers.js';
import { onStoreClose, onStoreOpen } from './ops/sweep.js';
import type { Readable } from 'node:stream';
import { diffDir } from './layer-tar/diff.js';

export { StoreError, DigestMismatchError, BlobNotFoundError, LayerError } from './errors.js';
export { LazyBlobError } from './lazy.js';
export { gitCacheDir, gitCacheLease, GIT_CACHE_ENTRY } from './git-cache.js';
export type { Store, Blobs, Images, Layers, CacheRecords, LazyBlob } from './api.js';
export { putJSON, readJSON } from './json.js';
export { registryView, type RegistryView } from './registry-view.js';
export { chainIDs, openSnapshots, Snapshots, type Scratch, type SnapshotLayer } from './snapshots.js';
export { diffScratch, type ScratchDiffOptions } from './snapshot-diff.js';
export { fileWriter, FLAG_CHMOD, FLAG_CHOWN, MAX_QUEUED_BODY, type WriterSession } from './layer-tar/file-writer.js';

class LocalStore implements Store {
  readonly blobs: LocalBlobs;
  readonly images: LocalImages;
  readonly layers: LocalLayers;
  readonly cache: CacheDir;
  private readonly leases: Leases;
  private readonly files: BlobStore;

  constructor(
    readonly root: string,
    private readonly remote?: RemoteBlobOpener,
    recordUse = true,
  ) {
    this.leases = new Leases(root, recordUse);
    this.files = new BlobStore(root);
    this.blobs = new LocalBlobs(root, this.files, this.leases, remote);
    this.images = new LocalImages(root, this.files, this.leases);
    this.layers = new LocalLayers(root, this.blobs, new LayerDirs(root, this.files.writer), this.leases);
    this.cache = new CacheDir(root);
  }

  async containerDirs(): Promise<ContainerDirs> {
    const dir = join(this.root, 'run', `${process.pid}-${randomBytes(6).toString('hex')}`);
    const upperdir = join(dir, 'upper');
    const workdir = join(dir, 'work');
    await mkdir(upperdir, { recursive: true });
    await mkdir(workdir);
    return { upperdir, workdir, scratch: dir, release: () => rm(dir, { recursive: true, force: true }) };
  }
  lease(digests: Digest[]): Promise<() => Promise<void>> {
    return this.leases.lease(digests);
  }
  use(names: string[]): Promise<void> {
    return this.leases.touch(names);
  }
  async close(): Promise<void> {
    this.remote?.close();
    await this.leases.close();
    await this.files.close();
    await onStoreClose(this.root);
  }
}

export interface OpenStoreOptions {
  /** Fetches lazy blobs recorded with a registry source; without it, reading such a blob fails with LazyBlobError. */
  remote?: RemoteBlobOpener;
  /**
   * What this instance leases counts as used when it closes (prune's least-recently-used order). Default true;
   * false for commands that only look (`images`, `inspect`, `rmi`).
   */
  recordUse?: boolean;
}

/** Opens (creating when missing) the store at `root`. */
export async function openStore(root: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const abs = resolve(root);
  try {
    await initLayout(abs);
  } catch (e) {
    throw new StoreError(`cannot open the store at ${abs}: ${(e as Error).message}`, { path: abs, cause: e });
  }
  await onStoreOpen(abs);
  // a store's unpacked layers serve only the mode (root or rootless) whose xattrs they carry
  await checkOverlayXattrs(abs);
  return new LocalStore(abs, opts.remote, opts.recordUse ?? true);
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
export { PremadeTarWriter, type PremadeTar } from './layer-tar/premade.js';
/** zstd decompression (Node's own, or the fallback package), loaded on first use. */
export const zstdDecompressor = async (): Promise<import('node:stream').Transform> =>
  (await import('./layer-tar/zstd.js')).createZstdDecompress();

/**
 * A root filesystem directory as a tar stream, pulled as it is read (the layer writer walking a plain tree: no
 * whiteout translation), mtimes clamped to `sourceDateEpoch` when given: `tsbuild build -o type=tar`.
 */
export function rootfsTar(dir: string, sourceDateEpoch?: number): Readable {
  return diffDir(dir, { source: 'plain', ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}) });
}
export { S_IFCHR, markTopDir, mknod } from './xattr.js';

/** The maintenance operations (store/ops/), loaded on first use: a build never needs them. */
export const storeOps = (): Promise<typeof import('./ops/index.js')> => import('./ops/index.js');
export { startWorker } from './worker-file.js';
