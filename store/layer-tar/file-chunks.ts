// A stored file compressed in pieces on the thread pool (gzip.ts, zstd.ts): read into a few reused buffers, each
// piece handed to `compress` as soon as it is read, the outputs yielded in order with at most `window` in flight,
// so memory stays flat whatever the size. With `expect`, the input is hashed as it is read and checked before the
// last piece is compressed: nothing is produced from the end of a file that is not the one asked for.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Digest } from '../../oci/index.js';
import { DamagedContentError } from '../../oci/index.js';

export interface FileChunksOptions {
  chunkSize: number;
  /** Pieces compressed at once. */
  window: number;
  /** What the input must be (a stored layer's diffID and size). */
  expect?: { digest: Digest; size?: number } | undefined;
}

/**
 * `compress(data, last)` of every piece of `path`, in order. A file of 0 bytes is one empty piece. `data` is only
 * valid until the output made of it has been yielded (its buffer is reused then).
 */
export async function* compressFileChunks<T>(
  path: string,
  opts: FileChunksOptions,
  compress: (data: Buffer, last: boolean) => Promise<T>,
): AsyncGenerator<T> {
  const { chunkSize, window, expect } = opts;
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    if (expect?.size !== undefined && size !== expect.size)
      throw new DamagedContentError(expect.digest, { size }, expect.size, 'layer');
    const hash = expect ? createHash('sha256') : undefined;
    const pool: Buffer[] = [];
    const queue: { out: Promise<T>; buf: Buffer }[] = [];
    let pos = 0;
    do {
      const buf = pool.pop() ?? Buffer.allocUnsafe(chunkSize);
      const want = Math.min(chunkSize, size - pos);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
        if (bytesRead === 0) throw new Error(`${path} shrank while it was compressed`);
        got += bytesRead;
      }
      const data = buf.subarray(0, want);
      pos += want;
      hash?.update(data);
      const last = pos >= size;
      if (hash && expect && last) {
        const digest = `sha256:${hash.digest('hex')}` as Digest;
        if (digest !== expect.digest)
          throw new DamagedContentError(expect.digest, { digest, size }, expect.size, 'layer');
      }
      const out = compress(data, last);
      out.catch(() => undefined);
      queue.push({ out, buf });
      while (queue.length >= window) {
        const q = queue.shift()!;
        yield await q.out;
        pool.push(q.buf);
      }
    } while (pos < size);
    while (queue.length > 0) yield await queue.shift()!.out;
  } finally {
    await fh.close();
  }
}
