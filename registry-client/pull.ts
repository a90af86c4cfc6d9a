// Pull: manifest (HEAD first, index → platform), config, then layers in parallel, each streamed into the target
// and, with `unpack`, unpacked while it downloads. Blobs land atomically (the target's writeBlob), the manifest
// after its blobs and the tag last, so an interrupted pull leaves no half-written state and the next one finishes.
import type { Readable } from 'node:stream';
import { tee } from '../oci/index.js';
import PQueue from 'p-queue';
import type { BlobSink, RemoteBlobSource } from '../oci/index.js';
import { formatReference, type ImageRef } from '../oci/index.js';
import {
  formatPlatform,
  hostPlatform,
  isIndexMediaType,
  selectPlatform,
  type Descriptor,
  type Digest,
  type ImageConfigFile,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from '../oci/index.js';
import { downloadBlob } from './blob-stream.js';
import { RegistryClient, type Repo } from './client.js';
import { DigestMismatchError, RegistryError } from './errors.js';
import { digestOf } from '../oci/index.js';
import { getManifest, manifestByDigest, manifestByTag, type FetchedManifest } from './manifest-fetch.js';
import { isIndex } from './manifests.js';
import { resolveRegistryOptions, type RegistryOptions } from './options.js';
import type { ProgressFn } from './progress.js';
import { BlobLocations } from './seen.js';

/** A config larger than this is refused (Docker's own limit for manifests is 4 MiB; a config is far smaller). */
const MAX_CONFIG = 8 << 20;

/** What a pull writes into. The Store satisfies it structurally; so does OciLayoutTarget. */
export interface PullTarget extends BlobSink {
  putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor>;
  readBytes(digest: Digest): Promise<Buffer>;
  /**
   * `expectDiffID`: the config's diffID for the layer (it may arrive while the layer downloads); a tar that hashes
   * otherwise fails.
   */
  unpackLayerStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: Promise<Digest | undefined>,
  ): Promise<{ diffID: Digest; dir: string }>;
  /** Unpacks a layer whose blob is already present (used when the blob was pulled earlier without unpacking). */
  unpackLayer?(layer: Descriptor, expectDiffID?: Promise<Digest | undefined>): Promise<{ diffID: Digest; dir: string }>;
  tag(name: string, target: Descriptor): Promise<void>;
  diffIDOf(layer: Descriptor): Promise<Digest | undefined>;
  hasBlob(digest: Digest): Promise<boolean>;
  /** Records a layer with where to fetch it instead of downloading it (for `lazy` pulls; the Store has it). */
  addLazyBlob?(descriptor: Descriptor, source: RemoteBlobSource): Promise<void>;
  /**
   * Downloads a blob the target has only recorded (a layer a build did not need); a plain pull ends with it present.
   */
  ensureBlob?(digest: Digest): Promise<void>;
}

export interface PullOptions extends RegistryOptions {
  /** Default: the host's. */
  platform?: Platform;
  /** Fetch every platform of an index and tag the index itself. */
  allPlatforms?: boolean;
  /** Unpack layers as they arrive (default false). */
  unpack?: boolean;
  /**
   * `tee` (default): download once into both the blob and the unpacker, so unpacking overlaps the download;
   * `after`: write the blob, then unpack it (one hash less; see bench/registry.mjs for both measured).
   */
  unpackMode?: 'tee' | 'after';
  /**
   * Fetch the manifest and config only; record each missing layer in the target with this registry as its source,
   * to be downloaded the first time something reads it (a build whose steps all hit the cache never does).
   * Needs a target with addLazyBlob; `unpack` is then ignored.
   */
  lazy?: boolean;
  /**
   * The target holds no image under this name (a build pulls a base only then): the tag is fetched with one GET,
   * since a HEAD, which saves the GET when the target already has the manifest, could only add a round trip.
   */
  absent?: boolean;
  /**
   * Called once the image's manifest and config are known (fetched and verified), before the pull writes them:
   * a build goes on with its cache lookups while the store writes (and fsyncs) the pull's results.
   */
  onConfig?: (image: Omit<PullResult, 'name'>) => void;
  onProgress?: ProgressFn;
  /** Share a client (and its token cache) across several pulls. */
  client?: RegistryClient;
}

export interface PullResult {
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfigFile;
  /** The normalized name tagged in the target. */
  name: string;
  /** The index the manifest was selected from, if any. */
  index?: Descriptor;
}

export async function pullImage(ref: ImageRef, target: PullTarget, opts: PullOptions = {}): Promise<PullResult> {
  const options = await resolveRegistryOptions(opts);
  const client = opts.client ?? new RegistryClient(options);
  const seen = await new BlobLocations(options.stateDir).load();
  try {
    const endpoints = client.endpoints(ref.registry, 'pull');
    let lastErr: unknown;
    // a mirror that has the image but not the platform said something definite: an unreachable upstream after it
    // must not hide that behind a network error
    let noPlatform: unknown;
    const isNoPlatform = (e: unknown): boolean => e instanceof RegistryError && e.code === 'NO_PLATFORM';
    for (const ep of endpoints) {
      const repo = client.repo(ep, ref.repository, ['pull']);
      try {
        const result = await pullFrom(repo, ref, target, { ...opts, ...options }, seen);
        await seen.save().catch(() => undefined);
        return result;
      } catch (e) {
        lastErr = e;
        if (ep.mirror && isNoPlatform(e)) noPlatform ??= e;
        if (!ep.mirror) throw noPlatform !== undefined && !isNoPlatform(e) ? noPlatform : e;
        client.transport.verbose(`mirror ${ep.base} failed (${(e as Error).message}); trying the next endpoint`);
      }
    }
    throw lastErr;
  } finally {
    if (!opts.client) client.close();
  }
}

async function pullFrom(
  repo: Repo,
  ref: ImageRef,
  target: PullTarget,
  opts: PullOptions,
  seen: BlobLocations,
): Promise<PullResult> {
  const cache = { hasBlob: (d: Digest) => target.hasBlob(d), readBytes: (d: Digest) => target.readBytes(d) };
  const tag = ref.tag ?? 'latest';
  const top = ref.digest
    ? await manifestByDigest(repo, ref.digest, cache)
    : opts.absent
      ? await getManifest(repo, tag)
      : await manifestByTag(repo, tag, cache);
  const name = formatReference(ref);
  const queue = new PQueue({ concurrency: Math.max(1, opts.concurrency ?? 4) });
  const want = opts.platform ?? hostPlatform();

  if (!isIndex(top.parsed, top.descriptor.mediaType)) {
    const img = await pullManifest(repo, top, target, opts, queue, seen);
    await target.tag(name, top.descriptor);
    return { ...img, name };
  }

  const index = top.parsed as ImageIndex;
  const chosen = selectPlatform(index.manifests, want);
  const children = opts.allPlatforms
    ? index.manifests.filter((d) => !isIndexMediaType(d.mediaType) && d.platform)
    : chosen
      ? [chosen]
      : [];
  if (!chosen && !opts.allPlatforms) {
    // what the index offers, attestations and nested indexes left out: the platforms one could ask for instead
    const have = index.manifests
      .filter((d) => d.platform && d.platform.architecture !== 'unknown' && !isIndexMediaType(d.mediaType))
      .map((d) => formatPlatform(d.platform!))
      .join(', ');
    throw new RegistryError(
      `no manifest for platform ${formatPlatform(want)} in ${name}: it offers ${have || 'no platform'}`,
      {
        registry: repo.registry,
        repository: repo.repository,
        hint: `choose one of ${have || 'its platforms'} with --platform (or FROM --platform=…)`,
      },
      'NO_PLATFORM',
    );
  }
  const results = await Promise.all(
    children.map(async (d) => {
      const m = await manifestByDigest(repo, d.digest, cache);
      return { d, img: await pullManifest(repo, m, target, opts, queue, seen) };
    }),
  );
  await target.putBytes(top.bytes, top.descriptor.mediaType, top.descriptor.digest);
  const picked = results.find((r) => r.d.digest === chosen?.digest) ?? results[0]!;
  // With one platform pulled, the name points at that platform's manifest; the index is kept for later lookups.
  await target.tag(name, opts.allPlatforms ? top.descriptor : picked.img.manifestDescriptor);
  return { ...picked.img, name, index: top.descriptor };
}

async function pullManifest(
  repo: Repo,
  m: FetchedManifest,
  target: PullTarget,
  opts: PullOptions,
  queue: PQueue,
  seen: BlobLocations,
): Promise<Omit<PullResult, 'name'>> {
  if (isIndex(m.parsed, m.descriptor.mediaType)) {
    throw new RegistryError(`nested index ${m.descriptor.digest} is not supported`, {
      registry: repo.registry,
      repository: repo.repository,
    });
  }
  const manifest = m.parsed as ImageManifest;
  const progress = opts.onProgress;
  const record = (d: Digest): void => seen.add(repo.registry, repo.repository, d);

  const checkDiffIDs = (cfg: ImageConfigFile): void => {
    if (cfg.rootfs?.diff_ids && cfg.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new RegistryError(
        `config ${manifest.config.digest} lists ${cfg.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`,
        {
          registry: repo.registry,
          repository: repo.repository,
        },
      );
    }
  };

  // One failed blob stops the others at once: a failing pull must not go on downloading (and writing temp files)
  // while the command reports the failure and closes the store.
  const stop = new AbortController();
  const guarded =
    <T>(task: () => Promise<T>) =>
    async (): Promise<T> => {
      stop.signal.throwIfAborted();
      try {
        return await task();
      } catch (e) {
        if (!stop.signal.aborted) stop.abort(e);
        throw e;
      }
    };

  const fetchBlob = async (desc: Descriptor, consume: (src: Readable) => Promise<unknown>): Promise<void> => {
    progress?.({
      kind: 'blob',
      action: 'download',
      digest: desc.digest,
      size: desc.size,
      transferred: 0,
      mediaType: desc.mediaType,
    });
    const src = downloadBlob(repo, desc, {
      signal: stop.signal,
      onBytes: (n) =>
        progress?.({
          kind: 'blob',
          action: 'download',
          digest: desc.digest,
          size: desc.size,
          transferred: n,
          mediaType: desc.mediaType,
        }),
      onRetry: (off, e) =>
        progress?.({
          kind: 'blob',
          action: 'retry',
          digest: desc.digest,
          size: desc.size,
          transferred: off,
          message: e.message,
        }),
    });
    await consume(src);
    record(desc.digest);
  };

  const configTask = queue.add(
    guarded(async () => {
      let bytes: Buffer | undefined;
      if (!(await target.hasBlob(manifest.config.digest))) {
        // a config is small: read into memory and checked against its digest here, before anyone is told of it
        await fetchBlob(manifest.config, async (src) => {
          const chunks: Buffer[] = [];
          let size = 0;
          for await (const c of src as AsyncIterable<Buffer>) {
            size += c.length;
            if (size > MAX_CONFIG)
              throw new RegistryError(`config ${manifest.config.digest} is larger than ${MAX_CONFIG >> 20} MiB`, {
                registry: repo.registry,
                repository: repo.repository,
              });
            chunks.push(c);
          }
          bytes = Buffer.concat(chunks);
          const actual = digestOf(bytes);
          if (actual !== manifest.config.digest)
            throw new DigestMismatchError(repo.registry, repo.repository, manifest.config.digest, actual);
        });
      }
      const config = JSON.parse(
        (bytes ?? (await target.readBytes(manifest.config.digest))).toString('utf8'),
      ) as ImageConfigFile;
      checkDiffIDs(config);
      opts.onConfig?.({ manifestDescriptor: m.descriptor, manifest, config });
      if (bytes) {
        await target.putBytes(bytes, manifest.config.mediaType, manifest.config.digest);
        progress?.({
          kind: 'blob',
          action: 'done',
          digest: manifest.config.digest,
          size: manifest.config.size,
          transferred: manifest.config.size,
          mediaType: manifest.config.mediaType,
        });
      }
      return config;
    }),
  );

  // Each layer's tar is checked against the config's diffID at the end of its unpack (a failed config fails the pull
  // through configTask itself).
  const diffIDs = configTask.then(
    (cfg) => cfg?.rootfs?.diff_ids,
    () => undefined,
  );
  const layerTasks = manifest.layers.map((layer, i) =>
    queue.add(
      guarded(async () => {
        const expectDiffID = diffIDs.then((ids) => ids?.[i]);
        const present = await target.hasBlob(layer.digest);
        if (!present && opts.lazy && target.addLazyBlob) {
          await target.addLazyBlob(layer, {
            kind: 'registry',
            registry: repo.registry,
            repository: repo.repository,
            endpoint: repo.endpoint.base,
            blob: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size },
          });
          record(layer.digest);
          progress?.({
            kind: 'blob',
            action: 'lazy',
            digest: layer.digest,
            size: layer.size,
            transferred: 0,
            mediaType: layer.mediaType,
          });
          return;
        }
        if (present) {
          progress?.({
            kind: 'blob',
            action: 'exists',
            digest: layer.digest,
            size: layer.size,
            transferred: layer.size,
            mediaType: layer.mediaType,
          });
          if (opts.unpack && !opts.lazy && target.unpackLayer) await target.unpackLayer(layer, expectDiffID);
          else if (!opts.lazy) await target.ensureBlob?.(layer.digest);
        } else if (!opts.unpack) {
          await fetchBlob(layer, (src) => target.writeBlob(src, { digest: layer.digest, size: layer.size }));
        } else if (opts.unpackMode === 'after' && target.unpackLayer) {
          await fetchBlob(layer, (src) => target.writeBlob(src, { digest: layer.digest, size: layer.size }));
          await target.unpackLayer(layer, expectDiffID);
        } else {
          await fetchBlob(layer, (src) =>
            tee(
              src,
              (a) => target.writeBlob(a, { digest: layer.digest, size: layer.size }),
              (b) => target.unpackLayerStream(layer, b, expectDiffID),
            ),
          );
        }
        progress?.({
          kind: 'blob',
          action: 'done',
          digest: layer.digest,
          size: layer.size,
          transferred: layer.size,
          mediaType: layer.mediaType,
        });
      }),
    ),
  );
  // Every task settles (the aborted ones clean up after themselves) before the first failure is reported.
  const settled = await Promise.allSettled([configTask, ...layerTasks]);
  if (stop.signal.aborted) throw stop.signal.reason;
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const cfg = (settled[0] as PromiseFulfilledResult<unknown>).value as ImageConfigFile;
  if (m.fetched || !(await target.hasBlob(m.descriptor.digest)))
    await target.putBytes(m.bytes, m.descriptor.mediaType, m.descriptor.digest);
  progress?.({
    kind: 'manifest',
    action: 'done',
    digest: m.descriptor.digest,
    size: m.descriptor.size,
    transferred: m.descriptor.size,
    mediaType: m.descriptor.mediaType,
  });
  return { manifestDescriptor: m.descriptor, manifest, config: cfg };
}
