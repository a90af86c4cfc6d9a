// Image archives: an OCI image layout tar or a docker-archive (manifest.json + repositories, the format
// `docker load` / `podman load` read). The one writer behind `tsbuild save` and `tsbuild build -o type=oci|docker`;
// they differ only in the layers they write (`layers` below). A multi-platform docker-archive is Docker 25's: an OCI
// layout of the index that is also a docker-archive of the host's image.
import { digestHex } from '../../oci/index.js';
import { familiarName, hostPlatform, parseReference, selectPlatform, type Platform } from '../../oci/index.js';
import { MediaType, type Descriptor, type ImageIndex, type ImageManifest } from '../../oci/index.js';
import type { ImageRecord, Store } from '../api.js';
import { StoreError } from '../errors.js';
import { putJSON } from '../json.js';
import { writeArchive, type ArchiveWriter } from './archive-tar.js';
import { damageIn } from '../../oci/index.js';
import { DEFAULT_COMPRESSION, compressionOfMediaType, layerMediaType, type LayerCompression } from '../../oci/index.js';

export interface SaveOptions {
  /**
   * `gzip`: layers compressed, as a registry would hold them (the manifest rewritten when that changes a layer);
   * `stored`: the store's own blobs (a build's are uncompressed); a LayerCompression: as an `--output` asks
   * (`compression=`, `force-compression=`). Default: `gzip` for OCI, `stored` for docker, what `tsbuild save`
   * writes; the builder's outputs pass their compression (gzip unless asked otherwise, as buildx).
   */
  layers?: 'gzip' | 'stored' | LayerCompression;
  /** Normalized names for the archive (the first names the OCI index entry); default: the name `ref` resolved. */
  names?: string[];
}

export interface SaveIndexOptions extends SaveOptions {
  /** The platform whose image a docker-archive's manifest.json lists (default: the host's, else the first). */
  loadPlatform?: Platform;
}

/** Writes `ref` to `dest` (a file, renamed into place when complete, or a stream); returns its manifest. */
export async function saveImage(
  store: Store,
  ref: string,
  dest: string | NodeJS.WritableStream,
  format: 'oci' | 'docker',
  opts: SaveOptions = {},
): Promise<Descriptor> {
  try {
    return await save(store, ref, dest, format, opts);
  } catch (e) {
    const dmg = damageIn(e);
    if (dmg) throw dmg.inImage(ref, `no archive was written to ${typeof dest === 'string' ? dest : '-'}`);
    throw e;
  }
}

async function save(
  store: Store,
  ref: string,
  dest: string | NodeJS.WritableStream,
  format: 'oci' | 'docker',
  opts: SaveOptions,
): Promise<Descriptor> {
  const rec = await store.images.resolve(ref);
  if (!rec) throw new StoreError(`image "${ref}" is not in the store`);
  const release = await store.lease([
    rec.manifestDigest,
    rec.configDigest,
    ...rec.manifest.layers.map((l) => l.digest),
  ]);
  try {
    const names = opts.names ?? (rec.name ? [rec.name] : []);
    const want = opts.layers ?? (format === 'oci' ? 'gzip' : 'stored');
    const compression = want === 'gzip' ? DEFAULT_COMPRESSION : want === 'stored' ? undefined : want;
    const layers: Descriptor[] = [];
    for (const l of rec.manifest.layers) layers.push(compression ? await store.layers.compressed(l, compression) : l);
    const manifest = await manifestFor(store, rec, layers, format === 'oci');
    await writeArchive(store, dest, (w) =>
      format === 'oci' ? writeOciLayout(w, rec, manifest, layers, names) : writeDockerArchive(w, rec, layers, names),
    );
    return manifest;
  } finally {
    await release();
  }
}

/**
 * An OCI layout of a whole index (a multi-platform build's): each platform's manifest (rewritten as `manifestFor`
 * says when its layers are compressed), config and layers, and the index over them (rewritten when a manifest was),
 * named by `names` as a single image would be. Returns the index the layout holds.
 *
 * `docker`: the archive `docker save` writes with the containerd image store (Docker 25): the same layout, the index
 * entry repeated once per name (as docker's), plus a manifest.json and repositories naming ONE image by its blobs —
 * the host's platform, else the first — for the loaders that read only those (docker's classic store, podman's
 * docker-archive transport).
 */
export async function saveIndex(
  store: Store,
  index: Descriptor,
  dest: string | NodeJS.WritableStream,
  format: 'oci' | 'docker' = 'oci',
  opts: SaveIndexOptions = {},
): Promise<Descriptor> {
  try {
    return await saveWholeIndex(store, index, dest, format, opts);
  } catch (e) {
    const dmg = damageIn(e);
    if (dmg) throw dmg.inImage(index.digest, `no archive was written to ${typeof dest === 'string' ? dest : '-'}`);
    throw e;
  }
}

async function saveWholeIndex(
  store: Store,
  index: Descriptor,
  dest: string | NodeJS.WritableStream,
  format: 'oci' | 'docker',
  opts: SaveIndexOptions,
): Promise<Descriptor> {
  const parsed = JSON.parse((await store.blobs.read(index.digest)).toString('utf8')) as ImageIndex;
  const want = opts.layers ?? 'gzip';
  const compression = want === 'gzip' ? DEFAULT_COMPRESSION : want === 'stored' ? undefined : want;
  const images: { rec: ImageRecord; manifest: Descriptor; layers: Descriptor[] }[] = [];
  const releases: (() => Promise<void>)[] = [];
  try {
    for (const entry of parsed.manifests) {
      const rec = await store.images.resolve(entry.digest);
      if (!rec || rec.manifestDigest !== entry.digest)
        throw new StoreError(`image ${entry.digest} of index ${index.digest} is not in the store`);
      releases.push(
        await store.lease([rec.manifestDigest, rec.configDigest, ...rec.manifest.layers.map((l) => l.digest)]),
      );
      const layers: Descriptor[] = [];
      for (const l of rec.manifest.layers) layers.push(compression ? await store.layers.compressed(l, compression) : l);
      images.push({ rec, manifest: await manifestFor(store, rec, layers, true), layers });
    }
    const changed = images.some((im, i) => im.manifest.digest !== parsed.manifests[i]!.digest);
    const written = changed
      ? await putJSON(
          store.blobs,
          {
            ...parsed,
            manifests: parsed.manifests.map((d, i) => ({
              ...d,
              mediaType: images[i]!.manifest.mediaType,
              digest: images[i]!.manifest.digest,
              size: images[i]!.manifest.size,
            })),
          },
          MediaType.OciIndex,
        )
      : { ...index, mediaType: MediaType.OciIndex };
    const names = opts.names ?? [];
    // docker's archive names the index once per name; an OCI layout once (buildx's oci exporter)
    const entries =
      format === 'docker' && names.length > 1
        ? names.map((n) => ({ ...written, ...nameAnnotations([n]) }))
        : [{ ...written, ...nameAnnotations(names) }];
    await writeArchive(store, dest, async (w) => {
      await w.file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      await w.file(
        'index.json',
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: entries }),
      );
      const seen = new Set<string>();
      const blob = async (d: { digest: Descriptor['digest']; size?: number | undefined }): Promise<void> => {
        if (seen.has(d.digest)) return;
        seen.add(d.digest);
        await w.blob(`blobs/sha256/${digestHex(d.digest)}`, d.digest, d.size);
      };
      await blob(written);
      for (const im of images) {
        await blob(im.manifest);
        await blob({ digest: im.rec.configDigest });
        for (const l of im.layers) await blob(l);
      }
      if (format === 'docker') {
        const want = opts.loadPlatform ?? hostPlatform();
        const picked = selectPlatform(parsed.manifests, want);
        const im = images[picked ? parsed.manifests.indexOf(picked) : 0]!;
        const path = (d: Descriptor['digest']): string => `blobs/sha256/${digestHex(d)}`;
        await writeDockerManifest(
          w,
          im.rec,
          im.layers,
          path(im.rec.configDigest),
          im.layers.map((l) => path(l.digest)),
          names,
        );
      }
    });
    return written;
  } finally {
    for (const r of releases) await r();
  }
}

/** The OCI layout annotations that name an image: containerd's full name and the layout's own ref (the tag). */
function nameAnnotations(names: string[]): { annotations?: Record<string, string> } {
  const name = names[0];
  if (!name) return {};
  return {
    annotations: {
      'io.containerd.image.name': name,
      'org.opencontainers.image.ref.name': parseReference(name).tag ?? 'latest',
    },
  };
}

/**
 * The manifest the archive holds: the stored one, or for an OCI layout a new OCI manifest when the layers written
 * differ from the stored ones or the stored manifest is Docker's.
 */
async function manifestFor(store: Store, rec: ImageRecord, layers: Descriptor[], isOci: boolean): Promise<Descriptor> {
  const changed = layers.some(
    (l, i) => l.digest !== rec.manifest.layers[i]!.digest || l.mediaType !== rec.manifest.layers[i]!.mediaType,
  );
  if (!isOci || (!changed && rec.manifestMediaType === MediaType.OciManifest)) {
    return {
      mediaType: rec.manifestMediaType,
      digest: rec.manifestDigest,
      size: await store.blobs.size(rec.manifestDigest),
    };
  }
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: {
      mediaType: MediaType.OciConfig,
      digest: rec.configDigest,
      size: await store.blobs.size(rec.configDigest),
    },
    layers: layers.map((l) => ({
      mediaType: layerMediaType(compressionOfMediaType(l.mediaType), false),
      digest: l.digest,
      size: l.size,
      ...(l.annotations ? { annotations: l.annotations } : {}),
    })),
    ...(rec.manifest.annotations ? { annotations: rec.manifest.annotations } : {}),
  };
  return putJSON(store.blobs, m, MediaType.OciManifest);
}

async function writeOciLayout(
  w: ArchiveWriter,
  rec: ImageRecord,
  manifest: Descriptor,
  layers: Descriptor[],
  names: string[],
): Promise<void> {
  const platform = {
    os: rec.config.os,
    architecture: rec.config.architecture,
    ...(rec.config.variant ? { variant: rec.config.variant } : {}),
  };
  const entry: Descriptor = { ...manifest, platform, ...nameAnnotations(names) };
  await w.file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await w.file('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] }));
  const seen = new Set<string>();
  for (const d of [manifest, { digest: rec.configDigest, size: undefined }, ...layers]) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    await w.blob(`blobs/sha256/${digestHex(d.digest)}`, d.digest, d.size);
  }
}

async function writeDockerArchive(
  w: ArchiveWriter,
  rec: ImageRecord,
  layers: Descriptor[],
  names: string[],
): Promise<void> {
  const layerNames = layers.map((l) => `${digestHex(l.digest)}/layer.tar`);
  await w.blob(`${digestHex(rec.configDigest)}.json`, rec.configDigest);
  const seen = new Set<string>();
  for (let i = 0; i < layers.length; i++) {
    if (seen.has(layerNames[i]!)) continue;
    seen.add(layerNames[i]!);
    await w.blob(layerNames[i]!, layers[i]!.digest, layers[i]!.size);
  }
  await writeDockerManifest(w, rec, layers, `${digestHex(rec.configDigest)}.json`, layerNames, names);
}

/** The docker-archive's manifest.json (one image: its config and layers by their paths in the tar) and repositories. */
async function writeDockerManifest(
  w: ArchiveWriter,
  rec: ImageRecord,
  layers: Descriptor[],
  config: string,
  layerNames: string[],
  names: string[],
): Promise<void> {
  const refs = names.map((n) => parseReference(n));
  await w.file(
    'manifest.json',
    JSON.stringify([{ Config: config, RepoTags: refs.map((r) => familiarName(r)), Layers: layerNames }]),
  );
  if (refs.length === 0) return;
  // The legacy tag file: repository → tag → top layer id.
  const top = digestHex(layers.at(-1)?.digest ?? rec.configDigest);
  const repositories: Record<string, Record<string, string>> = {};
  for (const r of refs) {
    const repo = familiarName({ registry: r.registry, repository: r.repository });
    (repositories[repo] ??= {})[r.tag ?? 'latest'] = top;
  }
  await w.file('repositories', JSON.stringify(repositories));
}
