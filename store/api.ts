// The store's contract, as builder/, cli/ and the registry glue see it. store/ implements it (openStore in
// store/index.ts). Everything here streams; nothing holds a layer in memory.
import type { Readable } from 'node:stream';
import type { BlobSink, BlobSource, RemoteBlobSource } from '../oci/index.js';
import type { Descriptor, Digest, ImageConfigFile, ImageIndex, ImageManifest } from '../oci/index.js';

/** An image as the store knows it: its manifest (by digest), parsed manifest and config. */
export interface ImageRecord {
  /** Normalized name it was resolved from, if any (`docker.io/library/busybox:latest`). */
  name?: string;
  manifestDigest: Digest;
  manifestMediaType: string;
  manifest: ImageManifest;
  configDigest: Digest;
  config: ImageConfigFile;
}

export interface CommittedLayer {
  /** Uncompressed tar blob (mediaType application/vnd.oci.image.layer.v1.tar); its digest is the diffID. */
  descriptor: Descriptor;
  diffID: Digest;
  /** True when the upperdir held no change (builder then records an empty_layer instead). */
  empty: boolean;
}

export interface CacheRecord {
  /** The layer the step produced, or null for a metadata-only step. */
  layer: { diffID: Digest; descriptor: Descriptor } | null;
  /** Opaque JSON the builder stores with the step (config changes, etc.). */
  data: unknown;
  createdAt: string;
}

export interface ContainerDirs {
  /** Fresh upperdir and overlay workdir on the store's filesystem. */
  upperdir: string;
  workdir: string;
  /** Removes both (idempotent). */
  release(): Promise<void>;
}

export interface CommitOptions {
  /** Clamp mtimes to this (seconds since epoch) so identical input gives an identical digest. */
  sourceDateEpoch?: number;
}

/** The diffID an image config lists for a layer, or a promise of it (undefined: the config lists none). */
export type ExpectedDiffID = Digest | Promise<Digest | undefined>;

export interface Store extends BlobSink, BlobSource {
  readonly root: string;

  /** Writes canonical JSON bytes as a blob; returns its descriptor with the given media type. */
  putJSON(value: unknown, mediaType: string): Promise<Descriptor>;
  /** Writes exact bytes (a manifest as received, keeping its digest). */
  putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor>;
  readBytes(digest: Digest): Promise<Buffer>;
  /**
   * Records that `descriptor`'s blob can be fetched from `source` the first time something reads it, without
   * downloading it now (a no-op when the blob is present). From then on hasBlob is true and every read (openBlob,
   * readBytes, unpackLayer, compressedLayer) fetches it first. A source holding the gzip of an uncompressed layer
   * also gives the layer's compressed form, so a push sends (or mounts) that gzip blob as it is.
   */
  addLazyBlob(descriptor: Descriptor, source: RemoteBlobSource): Promise<void>;
  /** addLazyBlob for many blobs, made durable together (one fsync, not one each). */
  addLazyBlobs(items: { descriptor: Descriptor; source: RemoteBlobSource }[]): Promise<void>;
  /** Downloads a lazy blob now (a no-op when the blob is present or unknown). */
  ensureBlob(digest: Digest): Promise<void>;
  /** Where a blob recorded lazily comes from (the record stays after the download); undefined for any other blob. */
  lazyBlob(digest: Digest): Promise<{ descriptor: Descriptor; sources: RemoteBlobSource[] } | undefined>;
  readJSON<T>(digest: Digest): Promise<T>;
  blobPath(digest: Digest): string;

  /** Points a normalized name (`docker.io/library/busybox:latest`) at a manifest or index. */
  tag(name: string, target: Descriptor): Promise<void>;
  untag(name: string): Promise<boolean>;
  /** Resolves a normalized name, a `name@sha256:…`, or a bare manifest/config digest or unique prefix. For an index, selects `platform` (default the host's). */
  resolveImage(
    ref: string,
    platform?: { os: string; architecture: string; variant?: string },
  ): Promise<ImageRecord | undefined>;
  listImages(): Promise<{ name: string; target: Descriptor }[]>;
  readIndex(digest: Digest): Promise<ImageIndex>;

  /**
   * Unpacks a layer blob (tar, tar+gzip, tar+zstd when supported) once, keyed by diffID; returns its directory.
   * `expectDiffID`: the image config's diffID for the layer; a tar that hashes otherwise fails and leaves nothing
   * unpacked (a promise: a pull's config may arrive while the layer downloads).
   */
  unpackLayer(layer: Descriptor, expectDiffID?: ExpectedDiffID): Promise<{ diffID: Digest; dir: string }>;
  /** Unpacks a layer from a stream as it arrives (pull); verifies the blob digest and records diffID. */
  unpackLayerStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: ExpectedDiffID,
  ): Promise<{ diffID: Digest; dir: string }>;
  /** Short path usable as an overlay lowerdir for an unpacked layer, or undefined when not unpacked. */
  lowerdir(diffID: Digest): Promise<string | undefined>;
  /** Lowerdirs for an image's layers, lowest first, unpacking what is missing. */
  lowerdirsFor(image: ImageRecord): Promise<string[]>;
  /** Diffs an overlay upperdir into an uncompressed layer blob and keeps an unpacked copy for later lowerdirs. */
  commitLayer(upperdir: string, opts?: CommitOptions): Promise<CommittedLayer>;
  /** The gzip blob for a layer (made on demand on all cores, kept by digest so the next push is free). */
  compressedLayer(layer: Descriptor): Promise<Descriptor>;
  /** The diffID of a layer blob, when known. */
  diffIDOf(layer: Descriptor): Promise<Digest | undefined>;

  getCache(key: string): Promise<CacheRecord | undefined>;
  putCache(key: string, record: CacheRecord): Promise<void>;
  /** putCache for many records at once (one new file, linked under each key; a key with a record keeps it). */
  putCaches(entries: [string, CacheRecord][]): Promise<void>;

  /** Fresh upperdir/workdir for one container run. */
  containerDirs(): Promise<ContainerDirs>;
  /** Marks digests as in use by this process until released, so a concurrent prune keeps them. */
  lease(digests: Digest[]): Promise<() => Promise<void>>;

  close(): Promise<void>;
}
