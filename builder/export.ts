// `--output type=oci|docker,dest=FILE`: an OCI image layout tar, or a `docker load` tar (manifest.json, config,
// layer tars), streamed from the store's blobs with tar-stream.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { digestHex } from '../oci/index.js';
import { MediaType, type Descriptor, type Digest } from '../oci/index.js';
import type { Store } from '../store/index.js';
import type { AssembledImage } from './build.js';
import { damageIn, verified } from '../oci/index.js';
import { archiveTempName, sweepArchiveTemps } from '../store/index.js';

export async function exportArchive(
  store: Store,
  image: AssembledImage,
  kind: 'oci' | 'docker',
  dest: string,
  tags: string[],
): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  if (dest !== '-') await sweepArchiveTemps(dest);
  const tmp = archiveTempName(dest);
  const pack = tarStream.pack();
  const done = dest === '-' ? pipeline(pack, process.stdout) : pipeline(pack, createWriteStream(tmp));
  done.catch(() => undefined);
  const entry = (name: string, data: string | Buffer): Promise<void> =>
    new Promise((res, rej) => pack.entry({ name, mtime: new Date(0), mode: 0o644 }, data, (e) => (e ? rej(e) : res())));
  const blob = async (name: string, digest: Digest, size: number): Promise<void> => {
    // checked as it is copied: a damaged layer fails the export instead of being written under its digest
    const src = verified(await store.blobs.open(digest), digest, size);
    await new Promise<void>((res, rej) => {
      const w = pack.entry({ name, size, mtime: new Date(0), mode: 0o644 }, (e) => (e ? rej(e) : res()));
      src.on('error', rej);
      src.pipe(w);
    });
  };
  try {
    const cfgSize = await store.blobs.size(image.configDigest);
    if (kind === 'oci') {
      await entry('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      const annotated: Descriptor = {
        ...image.manifest,
        ...(tags[0]
          ? {
              annotations: {
                'io.containerd.image.name': tags[0],
                'org.opencontainers.image.ref.name': tags[0].split(':').pop()!,
              },
            }
          : {}),
      };
      await entry(
        'index.json',
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [annotated] }),
      );
      await blob(`blobs/sha256/${digestHex(image.manifest.digest)}`, image.manifest.digest, image.manifest.size);
      await blob(`blobs/sha256/${digestHex(image.configDigest)}`, image.configDigest, cfgSize);
      for (const l of image.layers) await blob(`blobs/sha256/${digestHex(l.digest)}`, l.digest, l.size);
    } else {
      const layerNames: string[] = [];
      await blob(`${digestHex(image.configDigest)}.json`, image.configDigest, cfgSize);
      for (const l of image.layers) {
        const name = `${digestHex(l.digest)}/layer.tar`;
        if (l.mediaType.includes('gzip') || l.mediaType.includes('zstd')) {
          // docker load accepts compressed layer files too.
          await blob(`${digestHex(l.digest)}/layer.tar`, l.digest, l.size);
        } else await blob(name, l.digest, l.size);
        layerNames.push(name);
      }
      await entry(
        'manifest.json',
        JSON.stringify([
          { Config: `${digestHex(image.configDigest)}.json`, RepoTags: tags.map(dockerTag), Layers: layerNames },
        ]),
      );
    }
    pack.finalize();
    await done;
    if (dest !== '-') await rename(tmp, dest);
  } catch (e) {
    pack.destroy();
    await done.catch(() => undefined);
    await rm(tmp, { force: true });
    const dmg = damageIn(e);
    throw dmg ? dmg.inImage(image.manifest.digest, `no archive was written to ${dest}`) : e;
  }
}

function dockerTag(t: string): string {
  return t.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}
