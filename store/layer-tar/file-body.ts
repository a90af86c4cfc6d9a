// A large file's body handed from the layer diff to the blob writer, so that another thread copies it while the walk
// goes on (diffChunks → HashWriter.writeFollowed; BlobStore.ingestChunks reads it inline when that thread is busy).
import * as fs from 'node:fs';

/**
 * A large file's body in the tar (diffChunks): `size` bytes to read from the open `fd` at `offset` (default 0),
 * zero-padded if the file shrank since its header was written. The padding to the next block follows in the next
 * chunk. The consumer owns `fd` and must close it. (A span of a premade tar comes the same way, padding included.)
 */
export interface FileBody {
  fd: number;
  size: number;
  path: string;
  offset?: number;
}

/** The pieces of a FileBody, read into `buf` (each valid until the next), zero-padded to `size`; closes the fd. */
export function* readFileBody(body: FileBody, buf: Buffer): Generator<Buffer> {
  try {
    const base = body.offset ?? 0;
    let pos = 0;
    while (pos < body.size) {
      const want = Math.min(buf.length, body.size - pos);
      let n = 0;
      while (n < want) {
        const r = fs.readSync(body.fd, buf, n, want - n, base + pos + n);
        if (r === 0) break;
        n += r;
      }
      if (n < want) buf.fill(0, n, want); // the file shrank: pad to the size the header promised
      pos += want;
      yield buf.subarray(0, want);
    }
  } finally {
    fs.closeSync(body.fd);
  }
}
