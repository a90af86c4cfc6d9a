// An OCI image layout tar of an image index as the store holds it (`-o type=oci` of a build with attestations):
// index.json names the index; the blobs are the index, each manifest it lists, their configs and layers, as stored
// (the builder wrote the index's image manifest with its layers already compressed for the output).
import { digestHex, isIndexMediaType, parseReference, MediaType } from '../../oci/index.js';
import type { Descriptor, Digest, ImageIndex, ImageManifest } from '../../oci/index.js';
import type { Store } from '../api.js';
import { writeArchive } from './archive-tar.js';

export async function saveIndexLayout(
  store: Store,
  index: Descriptor,
  dest: string | NodeJS.WritableStream,
  names: string[],
): Promise<void> {
  const blobs = new Map<Digest, number>();
  const walk = async (d: Descriptor): Promise<void> => {
    if (blobs.has(d.digest)) return;
    blobs.set(d.digest, d.size);
    const json = JSON.parse((await store.blobs.read(d.digest)).toString('utf8')) as ImageIndex & ImageManifest;
    if (isIndexMediaType(d.mediaType)) for (const m of json.manifests) await walk(m);
    else for (const b of [json.config, ...json.layers]) blobs.set(b.digest, b.size);
  };
  await walk(index);
  const release = await store.lease([...blobs.keys()]);
  try {
    const name = names[0];
    const entry: Descriptor = {
      mediaType: index.mediaType,
      digest: index.digest,
      size: index.size,
      ...(name
        ? {
            annotations: {
              'io.containerd.image.name': name,
              'org.opencontainers.image.ref.name': parseReference(name).tag ?? 'latest',
            },
          }
        : {}),
    };
    await writeArchive(store, dest, async (w) => {
      await w.file('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      await w.file(
        'index.json',
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] }),
      );
      for (const [digest, size] of blobs) await w.blob(`blobs/sha256/${digestHex(digest)}`, digest, size);
    });
  } finally {
    await release();
  }
}
