// Writing an archive tar from the store's blobs with tar-stream, to a temp file renamed when complete (or to a
// stream: the builder's `dest=-`). Every blob is checked against its digest (and size) as it is copied: a damaged
// store fails the save and leaves no archive.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { verified } from '../../oci/index.js';
import type { Digest } from '../../oci/index.js';
import type { Store } from '../api.js';
import { archiveTempName, sweepArchiveTemps } from './sweep.js';

export interface ArchiveWriter {
  file(name: string, data: string | Buffer): Promise<void>;
  /** A stored blob; `size` (the image's) is checked too when given. */
  blob(name: string, digest: Digest, size?: number): Promise<void>;
}

export async function writeArchive(
  store: Store,
  dest: string | NodeJS.WritableStream,
  fill: (w: ArchiveWriter) => Promise<void>,
): Promise<void> {
  let file: { dest: string; tmp: string } | undefined;
  let out: NodeJS.WritableStream;
  if (typeof dest === 'string') {
    await sweepArchiveTemps(dest);
    file = { dest, tmp: archiveTempName(dest) };
    out = createWriteStream(file.tmp);
  } else out = dest;
  const pack = tarStream.pack();
  const done = pipeline(pack as unknown as NodeJS.ReadableStream, out);
  done.catch(() => undefined);
  const mtime = new Date(0);
  const w: ArchiveWriter = {
    file: (name, data) =>
      new Promise((res, rej) => pack.entry({ name, mtime, mode: 0o644 }, data, (e) => (e ? rej(e) : res()))),
    blob: async (name, digest, expectedSize) => {
      const size = expectedSize ?? (await store.blobs.size(digest));
      const src = verified(await store.blobs.open(digest), digest, size);
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
    if (file) await rename(file.tmp, file.dest);
  } catch (e) {
    pack.destroy();
    await done.catch(() => undefined);
    if (file) await rm(file.tmp, { force: true });
    throw e;
  }
}
