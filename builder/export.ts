// `--output type=oci|docker,dest=FILE|-`: the image as an OCI layout tar or a `docker load` tar, written by the
// store's archive writer (the one behind `tsbuild save`) with the layers as the build stored them, uncompressed.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { storeOps, type Store } from '../store/index.js';
import type { AssembledImage } from './assemble.js';

export async function exportArchive(
  store: Store,
  image: AssembledImage,
  kind: 'oci' | 'docker',
  dest: string,
  tags: string[],
): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const { saveImage } = await storeOps();
  await saveImage(store, image.manifest.digest, dest === '-' ? process.stdout : dest, kind, {
    layers: 'stored',
    names: tags,
  });
}
