// `tsbuild save`: an OCI image layout tar (gzip layers, as a registry would hold them) or a docker-archive
// (manifest.json + repositories, the format `docker load` / `podman load` read).
import { digestHex } from '../../oci/index.js';
import { familiarName, parseReference } from '../../oci/index.js';
import { MediaType, type Descriptor, type ImageManifest } from '../../oci/index.js';
import type { Store } from '../api.js';
import { putJSON } from '../json.js';
import { StoreError } from '../errors.js';
import { writeArchive } from './archive-tar.js';
import { damageIn } from '../../oci/index.js';

export async function saveImage(
  store: Store,
  ref: string,
  dest: string,
  format: 'oci' | 'docker',
): Promise<Descriptor> {
  try {
    return await save(store, ref, dest, format);
  } catch (e) {
    const dmg = damageIn(e);
    if (dmg) throw dmg.inImage(ref, `no archive was written to ${dest}`);
    throw e;
  }
}

async function save(store: Store, ref: string, dest: string, format: 'oci' | 'docker'): Promise<Descriptor> {
  const rec = await store.images.resolve(ref);
  if (!rec) throw new StoreError(`image "${ref}" is not in the store`);
  const release = await store.lease([
    rec.manifestDigest,
    rec.configDigest,
    ...rec.manifest.layers.map((l) => l.digest),
  ]);
  try {
    const name = rec.name;
    if (format === 'oci') {
      const layers: Descriptor[] = [];
      for (const l of rec.manifest.layers) layers.push(await store.layers.compressed(l));
      const changed = layers.some((l, i) => l.digest !== rec.manifest.layers[i]!.digest);
      let manifest: Descriptor;
      if (changed || rec.manifestMediaType !== MediaType.OciManifest) {
        const m: ImageManifest = {
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: {
            mediaType: MediaType.OciConfig,
            digest: rec.configDigest,
            size: await store.blobs.size(rec.configDigest),
          },
          layers: layers.map((l) => ({
            mediaType: MediaType.OciLayerGzip,
            digest: l.digest,
            size: l.size,
            ...(l.annotations ? { annotations: l.annotations } : {}),
          })),
          ...(rec.manifest.annotations ? { annotations: rec.manifest.annotations } : {}),
        };
        manifest = await putJSON(store.blobs, m, MediaType.OciManifest);
      } else {
        manifest = {
          mediaType: MediaType.OciManifest,
          digest: rec.manifestDigest,
          size: await store.blobs.size(rec.manifestDigest),
        };
      }
      const annotations: Record<string, string> = {};
      if (name) {
        const r = parseReference(name);
        annotations['io.containerd.image.name'] = name;
        annotations['org.opencontainers.image.ref.name'] = r.tag ?? 'latest';
      }
      const platform = {
        os: rec.config.os,
        architecture: rec.config.architecture,
        ...(rec.config.variant ? { variant: rec.config.variant } : {}),
      };
      const entry: Descriptor = { ...manifest, platform, ...(name ? { annotations } : {}) };
      await writeArchive(store, dest, async (w) => {
        await w.file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
        await w.file(
          'index.json',
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] }),
        );
        const seen = new Set<string>();
        for (const d of [manifest, { digest: rec.configDigest, size: undefined }, ...layers]) {
          if (seen.has(d.digest)) continue;
          seen.add(d.digest);
          await w.blob(`blobs/sha256/${digestHex(d.digest)}`, d.digest, d.size);
        }
      });
      return manifest;
    }
    const repoTags = name ? [familiarName(parseReference(name))] : [];
    const layerNames = rec.manifest.layers.map((l) => `${digestHex(l.digest)}/layer.tar`);
    await writeArchive(store, dest, async (w) => {
      await w.blob(`${digestHex(rec.configDigest)}.json`, rec.configDigest);
      const seen = new Set<string>();
      for (let i = 0; i < rec.manifest.layers.length; i++) {
        if (seen.has(layerNames[i]!)) continue;
        seen.add(layerNames[i]!);
        await w.blob(layerNames[i]!, rec.manifest.layers[i]!.digest, rec.manifest.layers[i]!.size);
      }
      await w.file(
        'manifest.json',
        JSON.stringify([{ Config: `${digestHex(rec.configDigest)}.json`, RepoTags: repoTags, Layers: layerNames }]),
      );
      if (name) {
        const r = parseReference(name);
        const repo = familiarName({ registry: r.registry, repository: r.repository });
        await w.file(
          'repositories',
          JSON.stringify({
            [repo]: { [r.tag ?? 'latest']: digestHex(rec.manifest.layers.at(-1)?.digest ?? rec.configDigest) },
          }),
        );
      }
    });
    return {
      mediaType: rec.manifestMediaType,
      digest: rec.manifestDigest,
      size: await store.blobs.size(rec.manifestDigest),
    };
  } finally {
    await release();
  }
}
