// The store's contract, as builder/, cli/ and the registry glue see it: four small interfaces, one per concern, each
// with its contract below, and `Store`, which composes them (as umoci's CAS engine and go-containerregistry's
// `Layer` keep theirs small). store/ implements it (openStore in store/index.ts); the remote cache wraps only the
// parts it changes (builder/remote-cache/store-view.ts). Everything here streams; nothing holds a layer in memory.
import type { Readable } from 'node:stream';
import type { LayerCompression, RemoteBlobSource } from '../oci/index.js';
import type { Descriptor, Digest, ImageConfigFile, ImageManifest, Platform } from '../oci/index.js';
import type { PremadeTar } from './layer-tar/premade.js';

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
  /** A directory of the step's own beside them, not mounted (a COPY's premade tar goes there). */
  scratch: string;
  /** Removes all three (idempotent). */
  release(): Promise<void>;
}

export interface CommitOptions {
  /** Clamp mtimes to this (seconds since epoch) so identical input gives an identical digest. */
  sourceDateEpoch?: number;
  /**
   * Awaited before the upperdir is moved into the store (its path then names an empty directory): a reader that
   * opens it by path meanwhile (the SBOM scan's view) must have it open first.
   */
  beforeMove?: () => Promise<void>;
  /**
   * The tar a COPY made of what it wrote as it wrote it (store/layer-tar/premade.ts): checked against the upperdir
   * entry by entry, it spares the commit opening and reading each small file; on any difference the commit walks
   * the upperdir in full instead.
   */
  premade?: PremadeTar;
}

/** The diffID an image config lists for a layer, or a promise of it (undefined: the config lists none). */
export type ExpectedDiffID = Digest | Promise<Digest | undefined>;

/** A blob recorded lazily: its descriptor and where it can be fetched from (most recent source first). */
export interface LazyBlob {
  descriptor: Descriptor;
  sources: RemoteBlobSource[];
}

/**
 * Content-addressed blobs. A digest names at most one content; nothing appears under it half written. A blob may be
 * lazy: recorded with where to fetch it (a registry, a cache) but not downloaded. A lazy blob is present for `has`
 * and `size`, and every read (`open`, `read`, and a layer unpack or compression) fetches it first, once however many
 * readers wait. Reads of a missing blob reject with an error naming the digest (BlobNotFoundError).
 */
export interface Blobs {
  /** Present or lazy. Whoever asks is about to rely on the answer, so the digest is leased first (Store.lease). */
  has(digest: Digest): Promise<boolean>;
  /** Size in bytes (a lazy blob's recorded size). */
  size(digest: Digest): Promise<number>;
  /** Streams the blob (fetching a lazy one first). */
  open(digest: Digest): Promise<Readable>;
  /** The whole blob in memory: for manifests and configs, never for layers. */
  read(digest: Digest): Promise<Buffer>;
  /**
   * Streams `src` in. With `expected`, verifies digest (and size when given); nothing is kept on a mismatch, and a
   * blob already present is not written again. Without it, the digest is the hash of what arrived. Either way the
   * digest is leased before the blob is placed.
   */
  put(src: Readable, expected?: { digest: Digest; size?: number }): Promise<{ digest: Digest; size: number }>;
  /** Writes exact bytes (a manifest as received, keeping its digest); returns its descriptor with `mediaType`. */
  putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor>;
  /** The file a present blob lives in (read-only; a lazy blob has none until fetched). */
  path(digest: Digest): string;
  /**
   * Resolves once the layers this process committed are durable and in place (a commit returns before its blob's
   * fsync and rename, and has, size, open and read of that digest wait for them); rejects if one could not be.
   */
  allPlaced(): Promise<void>;

  /**
   * Records that each blob can be fetched from its source the first time something reads it, without downloading
   * it now (a blob already present is skipped); many at once are made durable together (one fsync, not one each).
   * A source holding the gzip of an uncompressed layer also gives the layer's compressed form
   * (Layers.compressed), so a push sends (or mounts) that gzip blob as it is.
   */
  addLazy(items: { descriptor: Descriptor; source: RemoteBlobSource }[]): Promise<void>;
  /** Downloads a lazy blob now (a no-op when the blob is present or unknown). */
  fetch(digest: Digest): Promise<void>;
  /** Where a blob recorded lazily comes from (the record stays after the download); undefined for any other blob. */
  lazySource(digest: Digest): Promise<LazyBlob | undefined>;
}

/** Names (tags) and the images they point at. Names are normalized (`docker.io/library/busybox:latest`). */
export interface Images {
  /** Points a name at a manifest or index (replacing what it named); its blobs are leased first. */
  tag(name: string, target: Descriptor): Promise<void>;
  /** Removes a name; false when it named nothing. */
  untag(name: string): Promise<boolean>;
  /**
   * Resolves a name, a `name@sha256:…`, or a bare manifest/config digest or unique prefix; undefined when unknown.
   * For an index, selects `platform` (default the host's). The image and its layers are leased before it returns.
   */
  resolve(ref: string, platform?: Platform): Promise<ImageRecord | undefined>;
  list(): Promise<{ name: string; target: Descriptor }[]>;
}

/**
 * Layers as directories: a layer blob (tar, tar+gzip, tar+zstd) is unpacked once, keyed by its diffID, into a
 * directory in overlay format that serves as a lowerdir. A layer whose tar hashes otherwise than the diffID an image
 * config lists fails and leaves nothing unpacked.
 */
export interface Layers {
  /** Unpacks a present (or lazy) layer blob; `expectDiffID`: the image config's diffID for it. */
  unpack(layer: Descriptor, expectDiffID?: ExpectedDiffID): Promise<{ diffID: Digest; dir: string }>;
  /** Unpacks a layer from a stream as it arrives (a pull); verifies the blob digest and records the diffID. */
  unpackStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: ExpectedDiffID,
  ): Promise<{ diffID: Digest; dir: string }>;
  /** Short path usable as an overlay lowerdir for an unpacked layer, or undefined when not unpacked. */
  lowerdir(diffID: Digest): Promise<string | undefined>;
  /** Lowerdirs for an image's layers, lowest first, unpacking (and fetching) what is missing. */
  lowerdirsFor(image: ImageRecord): Promise<string[]>;
  /**
   * Diffs an overlay upperdir into an uncompressed layer blob and keeps an unpacked copy for later lowerdirs. It
   * returns before the blob's fsync and rename: reads of the digest wait for them, Blobs.allPlaced() waits and
   * reports a failure, and the store's close() waits.
   */
  commit(upperdir: string, opts?: CommitOptions): Promise<CommittedLayer>;
  /**
   * The layer's blob in `compression` (default gzip), made on demand on all cores and remembered by diffID and
   * compression so the next push is free. A layer already compressed otherwise is returned as it is unless
   * `compression.force`; `uncompressed` gives the layer's tar (its digest is the diffID).
   */
  compressed(layer: Descriptor, compression?: LayerCompression): Promise<Descriptor>;
  /** The diffID of a layer blob, when known. */
  diffIDOf(layer: Descriptor): Promise<Digest | undefined>;
}

/** Build cache records by key. A lost or torn record reads as a miss. */
export interface CacheRecords {
  get(key: string): Promise<CacheRecord | undefined>;
  put(key: string, record: CacheRecord): Promise<void>;
  /** put for many records at once (one new file, linked under each key; a key with a record keeps it). */
  putMany(entries: [string, CacheRecord][]): Promise<void>;
  /**
   * True only when no lookup can hit: the store held no record when this process first looked, and none was written
   * since (a fresh CI store). A step may then run before its key is known (builder/steps/copy.ts).
   */
  holdsNone(): Promise<boolean>;
}

export interface Store {
  readonly root: string;
  readonly blobs: Blobs;
  readonly images: Images;
  readonly layers: Layers;
  readonly cache: CacheRecords;
  /** Fresh upperdir/workdir for one container run. */
  containerDirs(): Promise<ContainerDirs>;
  /** Marks digests as in use by this process until released, so a concurrent prune keeps them. */
  lease(digests: Digest[]): Promise<() => Promise<void>>;
  /**
   * Marks named store entries that are not blobs (`git:<key>`, a checkout in builder/git/) as in use by this
   * instance until it closes: a prune keeps them. Call it before relying on the entry (before checking it exists).
   */
  use(names: string[]): Promise<void>;
  close(): Promise<void>;
}
