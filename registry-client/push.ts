// Push: uncompressed local layers are swapped for their gzip blobs (the manifest rewritten, so its digest
// changes), then per destination repository every blob is HEADed, mounted from a sibling repository or uploaded,
// in parallel, and the manifest PUT under each tag with its exact media type.
import PQueue from 'p-queue';
import type { BlobSource, RemoteBlobSource } from '../oci/index.js';
import { digestOf } from '../oci/index.js';
import { repositoryName, type ImageRef } from '../oci/index.js';
import { DEFAULT_COMPRESSION, compressionOfMediaType, layerMediaType, type LayerCompression } from '../oci/index.js';
import { MediaType, type Descriptor, type Digest, type ImageIndex, type ImageManifest } from '../oci/index.js';
import { RegistryClient, type Repo } from './client.js';
import { RegistryError } from './errors.js';
import { isIndex, manifestMediaType, type AnyManifest } from './manifests.js';
import { resolveRegistryOptions, type RegistryOptions } from './options.js';
import type { ProgressFn } from './progress.js';
import { BlobLocations } from './seen.js';
import { uploadBlob } from './upload.js';
import { discardBody } from './body-limit.js';
import { damageIn, verified, type DamagedContentError } from '../oci/index.js';
import { formatReference } from '../oci/index.js';

/** What a push reads from. The Store satisfies it structurally; so does OciLayoutSource. */
export interface PushSource extends BlobSource {
  readBytes(digest: Digest): Promise<Buffer>;
  /** The layer's blob in `compression` (default gzip), made on demand. */
  compressedLayer(layer: Descriptor, compression?: LayerCompression): Promise<Descriptor>;
  /**
   * Where a blob recorded without being downloaded comes from (the Store has it): a repository of the same registry is
   * mounted from, and the blob never travels.
   */
  lazyBlob?(digest: Digest): Promise<{ sources: RemoteBlobSource[] } | undefined>;
}

/** Repositories of `registry` other than `except` that a lazy blob was recorded from. */
async function lazyRepos(source: PushSource, digest: Digest, registry: string, except: string): Promise<string[]> {
  const rec = await source.lazyBlob?.(digest);
  return (rec?.sources ?? []).flatMap((s) =>
    s.kind === 'registry' && s.registry === registry && s.repository !== except ? [s.repository] : [],
  );
}

export interface PushOptions extends RegistryOptions {
  onProgress?: ProgressFn;
  client?: RegistryClient;
  /** Blobs up to this size are uploaded with one PUT (default 32 MiB); larger ones in PATCH chunks. */
  monolithicMax?: number;
  chunkSize?: number;
  /** Layer compression and media types (`--output compression=…,oci-mediatypes=…`). */
  output?: PushOutput;
}

interface Prepared {
  descriptor: Descriptor;
  bytes: Buffer;
  blobs: Descriptor[];
  children: Prepared[];
}

/** How the pushed image's layers are compressed and which media types it uses (`--output` keys). */
export interface PushOutput {
  /** Default gzip; a layer compressed otherwise keeps its compression unless `force`. */
  compression?: LayerCompression;
  /** true: OCI media types; false: Docker's; undefined: as the manifest has them. */
  ociMediaTypes?: boolean;
}

/** The manifest or index media type in the other family, when `oci` asks for one. */
function manifestTypeFor(mediaType: string, oci: boolean | undefined): string {
  if (oci === undefined) return mediaType;
  if (mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest)
    return oci ? MediaType.OciManifest : MediaType.DockerManifest;
  if (mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList)
    return oci ? MediaType.OciIndex : MediaType.DockerManifestList;
  return mediaType;
}

/** Reads a manifest (or index) and its children, compressing layers as `output` asks (uncompressed ones in gzip). */
export async function prepareManifest(
  source: PushSource,
  desc: Descriptor,
  output: PushOutput = {},
): Promise<Prepared> {
  const original = await source.readBytes(desc.digest);
  const parsed = JSON.parse(original.toString('utf8')) as AnyManifest;
  const found = desc.mediaType || manifestMediaType(parsed, null);
  const mediaType = manifestTypeFor(found, output.ociMediaTypes);
  if (isIndex(parsed, found)) {
    const index = parsed as ImageIndex;
    const children = await Promise.all(index.manifests.map((d) => prepareManifest(source, d, output)));
    const changed =
      mediaType !== found ||
      children.some(
        (c, i) =>
          c.descriptor.digest !== index.manifests[i]!.digest ||
          c.descriptor.mediaType !== index.manifests[i]!.mediaType,
      );
    const bytes = changed
      ? Buffer.from(
          JSON.stringify({
            ...index,
            ...(index.mediaType !== undefined || mediaType !== found ? { mediaType } : {}),
            manifests: index.manifests.map((d, i) => ({
              ...d,
              mediaType: children[i]!.descriptor.mediaType,
              digest: children[i]!.descriptor.digest,
              size: children[i]!.descriptor.size,
            })),
          }),
        )
      : original;
    return {
      descriptor: { ...desc, mediaType, digest: digestOf(bytes), size: bytes.length },
      bytes,
      blobs: [],
      children,
    };
  }
  const manifest = parsed as ImageManifest;
  const docker = mediaType === MediaType.DockerManifest;
  const compression = output.compression ?? DEFAULT_COMPRESSION;
  const convert = mediaType !== found;
  let changed = convert;
  const layers = await Promise.all(
    manifest.layers.map(async (l) => {
      const have = compressionOfMediaType(l.mediaType);
      // only image layers are compressed: an attestation's in-toto statement layer is kept as it is
      const recompress = !KNOWN_LAYER_TYPES.has(l.mediaType)
        ? false
        : have === 'uncompressed'
          ? compression.type !== 'uncompressed'
          : compression.force === true && have !== compression.type;
      if (!recompress && !convert) return l;
      const blob = recompress ? await source.compressedLayer(l, compression) : l;
      const type = compressionOfMediaType(blob.mediaType);
      // a layer type outside the three (a foreign layer) is kept as it is
      const mt = !recompress && !KNOWN_LAYER_TYPES.has(l.mediaType) ? l.mediaType : layerMediaType(type, docker);
      if (blob.digest === l.digest && mt === l.mediaType) return l;
      changed = true;
      return { ...l, mediaType: mt, digest: blob.digest, size: blob.size };
    }),
  );
  const config =
    mediaType === found
      ? manifest.config
      : { ...manifest.config, mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig };
  const bytes = changed
    ? Buffer.from(
        JSON.stringify({
          ...manifest,
          ...(manifest.mediaType !== undefined || convert ? { mediaType } : {}),
          config,
          layers,
        }),
      )
    : original;
  return {
    descriptor: {
      mediaType,
      digest: changed ? digestOf(bytes) : desc.digest,
      size: bytes.length,
      ...(desc.platform ? { platform: desc.platform } : {}),
    },
    bytes,
    blobs: [config, ...layers],
    children: [],
  };
}

/** Up to this size a blob goes in the push's lane of small blobs. */
const SMALL_BLOB = 1 << 20;

const KNOWN_LAYER_TYPES = new Set<string>([
  MediaType.OciLayer,
  MediaType.OciLayerGzip,
  MediaType.OciLayerZstd,
  MediaType.DockerLayer,
  MediaType.DockerLayerGzip,
]);

function allBlobs(p: Prepared): Descriptor[] {
  const seen = new Map<string, Descriptor>();
  for (const b of [...p.blobs, ...p.children.flatMap(allBlobs)]) seen.set(b.digest, b);
  return [...seen.values()];
}

async function putManifest(repo: Repo, p: Prepared, reference: string): Promise<void> {
  const res = await repo.request({
    method: 'PUT',
    path: `/manifests/${reference}`,
    headers: { 'content-type': p.descriptor.mediaType, 'content-length': String(p.bytes.length) },
    body: () => p.bytes,
  });
  if (res.status !== 201 && res.status !== 200) await repo.fail(res, `PUT manifest ${reference}`);
  await discardBody(res);
  const got = res.headers.get('docker-content-digest');
  if (got && got !== p.descriptor.digest) {
    throw new RegistryError(`registry stored manifest ${reference} as ${got}, expected ${p.descriptor.digest}`, {
      registry: repo.registry,
      repository: repo.repository,
    });
  }
}

/**
 * PUTs each manifest of the tree once its own blobs (`uploaded`) and child manifests are in the registry, so an
 * image manifest goes while an attestation's blobs still upload, and siblings go side by side; the top manifest
 * last, under each reference.
 */
async function putManifestTree(
  repo: Repo,
  p: Prepared,
  references: string[],
  uploaded: (d: Descriptor) => Promise<void>,
): Promise<void> {
  await Promise.all([
    ...p.blobs.map(uploaded),
    ...p.children.map((c) => putManifestTree(repo, c, [c.descriptor.digest], uploaded)),
  ]);
  for (const ref of references) await putManifest(repo, p, ref);
}

/**
 * `source` whose blobs are checked against their digests as they are uploaded (the last bytes held back until they
 * match, so a damaged blob's upload is never completed). A blob found damaged fails at once when opened again
 * (a retry would only send the same bytes).
 */
function checkedSource(source: PushSource, damaged: Map<string, DamagedContentError>): BlobSource {
  return {
    blobSize: (d) => source.blobSize(d),
    openBlob: async (d) => {
      const known = damaged.get(d);
      if (known) throw known;
      const v = verified(await source.openBlob(d), d);
      v.on('error', (e) => {
        const dmg = damageIn(e);
        if (dmg) damaged.set(d, dmg);
      });
      return v;
    },
  };
}

export async function pushImage(
  source: PushSource,
  manifest: Descriptor,
  dests: ImageRef[],
  opts: PushOptions = {},
): Promise<{ digest: Digest }> {
  if (dests.length === 0) throw new Error('pushImage: no destination');
  const damaged = new Map<string, DamagedContentError>();
  try {
    return await pushChecked(source, checkedSource(source, damaged), manifest, dests, opts, damaged);
  } catch (e) {
    // Said from the push's side: which image, and that the manifest was not pushed. A damaged blob's upload can
    // surface as a transport error (the request body failed): the damage recorded for it is the cause to report.
    const dmg = damageIn(e) ?? damaged.values().next().value;
    if (dmg)
      throw dmg.inImage(
        `${manifest.digest} (pushing to ${dests.map(formatReference).join(', ')})`,
        'the manifest was not pushed',
      );
    throw e;
  }
}

async function pushChecked(
  source: PushSource,
  blobSource: BlobSource,
  manifest: Descriptor,
  dests: ImageRef[],
  opts: PushOptions,
  damaged: Map<string, DamagedContentError>,
): Promise<{ digest: Digest }> {
  const options = await resolveRegistryOptions(opts);
  const client = opts.client ?? new RegistryClient(options);
  const seen = await new BlobLocations(options.stateDir).load();
  const progress = opts.onProgress;
  try {
    const prepared = await prepareManifest(source, manifest, opts.output);
    const blobs = allBlobs(prepared);
    const groups = new Map<string, ImageRef[]>();
    for (const d of dests) groups.set(repositoryName(d), [...(groups.get(repositoryName(d)) ?? []), d]);
    const concurrency = Math.max(1, options.concurrency ?? 4);
    // small blobs (configs, attestation statements) in a lane of their own: they cost round trips, not bandwidth,
    // and a manifest waits for them; behind a large layer's upload they would hold it up
    const queues = { large: new PQueue({ concurrency }), small: new PQueue({ concurrency }) };
    for (const [name, refs] of groups) {
      const first = refs[0]!;
      const repo = client.repo(client.endpoints(first.registry, 'push')[0]!, first.repository, ['pull', 'push']);
      const uploads = new Map(
        blobs.map((b) => [
          b.digest,
          queues[b.size <= SMALL_BLOB ? 'small' : 'large'].add(async () => {
            const ev = {
              kind: 'blob' as const,
              digest: b.digest,
              size: b.size,
              mediaType: b.mediaType,
              repository: name,
            };
            const result = await uploadBlob(repo, blobSource, b, {
              monolithicMax: opts.monolithicMax,
              chunkSize: opts.chunkSize,
              mountFrom: [
                ...new Set([
                  ...(await lazyRepos(source, b.digest, first.registry, first.repository)),
                  ...seen.reposFor(first.registry, b.digest, first.repository),
                ]),
              ],
              onBytes: (n) => progress?.({ ...ev, action: 'upload', transferred: n }),
              onRetry: (off, e) => progress?.({ ...ev, action: 'retry', transferred: off, message: e.message }),
            });
            seen.add(first.registry, first.repository, b.digest);
            progress?.({
              ...ev,
              action: result === 'uploaded' ? 'done' : result === 'mounted' ? 'mount' : 'exists',
              transferred: b.size,
            });
          }),
        ]),
      );
      // a manifest is PUT only after its blobs: a damaged one (its upload never completed) stops it and the top
      const uploaded = async (d: Descriptor): Promise<void> => {
        await uploads.get(d.digest);
        if (damaged.size > 0) throw damaged.values().next().value!;
      };
      const tags = refs.flatMap((r) => (r.tag ? [r.tag] : []));
      await Promise.all([
        ...uploads.values(),
        putManifestTree(repo, prepared, tags.length ? tags : [prepared.descriptor.digest], uploaded),
      ]);
      for (const r of refs) {
        if (r.digest && r.digest !== prepared.descriptor.digest) {
          throw new RegistryError(
            `destination names digest ${r.digest} but the pushed manifest is ${prepared.descriptor.digest}`,
            { registry: r.registry, repository: r.repository },
          );
        }
      }
      progress?.({
        kind: 'manifest',
        action: 'done',
        digest: prepared.descriptor.digest,
        size: prepared.descriptor.size,
        transferred: prepared.descriptor.size,
        mediaType: prepared.descriptor.mediaType,
        repository: name,
      });
    }
    await seen.save().catch(() => undefined);
    return { digest: prepared.descriptor.digest };
  } finally {
    if (!opts.client) client.close();
  }
}
