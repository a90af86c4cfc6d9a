// `--output type=oci|docker,dest=FILE|-`: the image as an OCI layout tar or a `docker load` tar, written by the
// store's archive writer (the one behind `tsbuild save`), the layers in gzip unless the output's keys ask for
// another compression (as buildx's oci and docker exporters).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { storeOps, type Store } from '../store/index.js';
import { DEFAULT_COMPRESSION, type Descriptor, type OutputLayers } from '../oci/index.js';
import type { AssembledImage } from './assemble.js';

export async function exportArchive(
  store: Store,
  image: AssembledImage,
  kind: 'oci' | 'docker',
  dest: string,
  tags: string[],
  layers?: OutputLayers,
  /** With attestations: the index (image + attestation manifest), written whole to an OCI layout. */
  index?: Descriptor,
): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  if (index && kind === 'oci') {
    const { saveIndexLayout } = await storeOps();
    await saveIndexLayout(store, index, dest === '-' ? process.stdout : dest, tags);
    return;
  }
  const { saveImage } = await storeOps();
  await saveImage(store, image.manifest.digest, dest === '-' ? process.stdout : dest, kind, {
    layers: layers?.compression ?? DEFAULT_COMPRESSION,
    names: tags,
  });
}

/**
 * `--output type=oci|docker` of a multi-platform build: the whole index (every platform's manifest, config and
 * layers) in one OCI layout, named as a single image's would be; `docker` adds the manifest.json of the host's image
 * (Docker 25's `docker save` archive, which `docker load` and `podman load` read).
 */
export async function exportIndexArchive(
  store: Store,
  index: Descriptor,
  kind: 'oci' | 'docker',
  dest: string,
  tags: string[],
  layers?: OutputLayers,
): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const { saveIndex } = await storeOps();
  await saveIndex(store, index, dest === '-' ? process.stdout : dest, kind, {
    layers: layers?.compression ?? DEFAULT_COMPRESSION,
    names: tags,
  });
}
