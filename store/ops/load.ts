// `tsbuild load`: reads an OCI image layout tar or a docker-archive in one pass. Blobs stream into the store
// (OCI blobs verified against their names); the small metadata files are kept in memory; images are then tagged
// by the names the archive gives (io.containerd.image.name / a full ref.name, or RepoTags).
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { normalizeName } from '../../oci/index.js';
import { MediaType, type Descriptor, type Digest, type ImageIndex, type ImageManifest } from '../../oci/index.js';
import type { Store } from '../api.js';
import { putJSON } from '../json.js';
import { decompressed, detectCompression, peek } from '../decompress.js';
import { StoreError } from '../errors.js';
import { entryComponents } from '../layer-tar/paths.js';

const META = new Set(['index.json', 'oci-layout', 'manifest.json', 'repositories']);
const MAX_META = 8 << 20;

export interface LoadedImage {
  name?: string;
  digest: Digest;
}

async function readAll(s: Readable, limit: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new StoreError(`archive member ${what} is too large`);
    parts.push(c);
  }
  return Buffer.concat(parts);
}

function nameFrom(annotations: Record<string, string> | undefined): string | undefined {
  const full = annotations?.['io.containerd.image.name'];
  const ref = annotations?.['org.opencontainers.image.ref.name'];
  for (const n of [full, ref]) {
    if (!n || (n === ref && !/[/:]/.test(n))) continue;
    try {
      return normalizeName(n);
    } catch {
      /* not a name */
    }
  }
  return undefined;
}

export async function loadArchive(store: Store, file: string): Promise<LoadedImage[]> {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const src = await decompressed(raw);
  const extract = tarStream.extract();
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract as unknown as NodeJS.WritableStream);
  const meta = new Map<string, Buffer>();
  const byPath = new Map<string, { digest: Digest; size: number; compression: string }>();
  return readArchive();
  async function readArchive(): Promise<LoadedImage[]> {
    for await (const entry of extract) {
      const h = entry.header;
      const path = entryComponents(h.name).join('/');
      const body = entry as unknown as Readable;
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        body.resume();
        continue;
      }
      if (META.has(path)) {
        meta.set(path, await readAll(body, MAX_META, path));
        continue;
      }
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
      const head = await peek(body, 4);
      const compression = detectCompression(head);
      if (m) {
        const digest = `sha256:${m[1]}` as Digest;
        const r = await store.blobs.put(body, { digest, size: h.size ?? undefined });
        byPath.set(path, { ...r, compression });
      } else if (/\.json$/.test(path) || /layer\.tar$/.test(path) || /\.tar(\.gz)?$/.test(path)) {
        // docker-archive members: content-addressed by what they hash to (Blobs.put leases each before placing it)
        const r = await store.blobs.put(body);
        byPath.set(path, { ...r, compression });
      } else {
        body.resume();
      }
    }
    if (meta.has('index.json'))
      return loadOci(store, JSON.parse(meta.get('index.json')!.toString('utf8')) as ImageIndex);
    if (meta.has('manifest.json'))
      return loadDocker(
        store,
        JSON.parse(meta.get('manifest.json')!.toString('utf8')) as DockerManifestEntry[],
        byPath,
      );
    throw new StoreError(`${file} is neither an OCI layout archive (index.json) nor a docker-archive (manifest.json)`, {
      path: file,
    });
  }
}

async function loadOci(store: Store, index: ImageIndex): Promise<LoadedImage[]> {
  const out: LoadedImage[] = [];
  for (const m of index.manifests) {
    if (!(await store.blobs.has(m.digest)))
      throw new StoreError(`the archive's index.json names ${m.digest}, which the archive does not hold`, {
        digest: m.digest,
      });
    const name = nameFrom(m.annotations);
    const target: Descriptor = {
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      ...(m.platform ? { platform: m.platform } : {}),
    };
    if (name) await store.images.tag(name, target);
    out.push({ ...(name ? { name } : {}), digest: m.digest });
  }
  return out;
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function loadDocker(
  store: Store,
  entries: DockerManifestEntry[],
  byPath: Map<string, { digest: Digest; size: number; compression: string }>,
): Promise<LoadedImage[]> {
  const out: LoadedImage[] = [];
  for (const e of entries) {
    const cfg = byPath.get(entryComponents(e.Config).join('/'));
    if (!cfg) throw new StoreError(`docker-archive: config ${e.Config} is missing`);
    const layers: Descriptor[] = [];
    for (const l of e.Layers) {
      const b = byPath.get(entryComponents(l).join('/'));
      if (!b) throw new StoreError(`docker-archive: layer ${l} is missing`);
      if (b.compression === 'zstd') layers.push({ mediaType: MediaType.OciLayerZstd, digest: b.digest, size: b.size });
      else
        layers.push({
          mediaType: b.compression === 'gzip' ? MediaType.OciLayerGzip : MediaType.OciLayer,
          digest: b.digest,
          size: b.size,
        });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
      layers,
    };
    const desc = await putJSON(store.blobs, manifest, MediaType.OciManifest);
    const names = (e.RepoTags ?? []).map((t) => normalizeName(t));
    for (const n of names) await store.images.tag(n, desc);
    if (names.length === 0) out.push({ digest: desc.digest });
    for (const n of names) out.push({ name: n, digest: desc.digest });
  }
  return out;
}
