// Writing an archive tar from the store's blobs with tar-stream, to a temp file renamed when complete.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import type { Digest } from '../../oci/types.js';
import type { Store } from '../api.js';
import { tempName } from '../fsutil.js';
import { dirname } from 'node:path';

export interface ArchiveWriter {
  file(name: string, data: string | Buffer): Promise<void>;
  blob(name: string, digest: Digest): Promise<void>;
}

export async function writeArchive(store: Store, dest: string, fill: (w: ArchiveWriter) => Promise<void>): Promise<void> {
  const tmp = tempName(dirname(dest), '.tsbuild-save');
  const pack = tarStream.pack();
  const done = pipeline(pack as unknown as NodeJS.ReadableStream, createWriteStream(tmp));
  const mtime = new Date(0);
  const w: ArchiveWriter = {
    file: (name, data) => new Promise((res, rej) => pack.entry({ name, mtime, mode: 0o644 }, data, (e) => (e ? rej(e) : res()))),
    blob: async (name, digest) => {
      const size = await store.blobSize(digest);
      const src = await store.openBlob(digest);
      await new Promise<void>((res, rej) => {
        const sink = pack.entry({ name, size, mtime, mode: 0o644 }, (e) => (e ? rej(e) : res()));
        src.on('error', rej);
        src.pipe(sink as unknown as NodeJS.WritableStream);
      });
    },
  };
  try {
    await fill(w);
    pack.finalize();
    await done;
    await rename(tmp, dest);
  } catch (e) {
    pack.destroy();
    await done.catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}
