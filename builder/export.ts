// `--output type=oci|docker,dest=FILE|-`: the image as an OCI layout tar or a `docker load` tar, written by the
// store's archive writer (the one behind `tsbuild save`), the layers in gzip unless the output's keys ask for
// another compression (as buildx's oci and docker exporters).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { storeOps, type Store } from '../store/index.js';
import { DEFAULT_COMPRESSION, type OutputLayers } from '../oci/index.js';
import type { AssembledImage } from './assemble.js';

export async function exportArchive(
  store: Store,
  image: AssembledImage,
  kind: 'oci' | 'docker',
  dest: string,
  tags: string[],
  layers?: OutputLayers,
): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const { saveImage } = await storeOps();
  await saveImage(store, image.manifest.digest, dest === '-' ? process.stdout : dest, kind, {
    layers: layers?.compression ?? DEFAULT_COMPRESSION,
    names: tags,
  });
}
