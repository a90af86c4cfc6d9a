// Content-addressed blobs under blobs/sha256/<hex>. Each blob is streamed to a temp file under tmp/ while its
// digest is computed, verified, fsynced and renamed into place: a crash never leaves a half blob under a real name.
import { createWriteStream, statSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, digestHex, digestOf } from '../oci/index.js';
import type { Digest } from '../oci/index.js';
import { BlobNotFoundError, DigestMismatchError } from './errors.js';
import { isNotFound, tempName } from './fsutil.js';
import { HashWriter } from './hash-writer.js';
import { readFileBody, type FileBody } from './layer-tar/file-body.js';

export class BlobStore {
  /** The second-thread hasher/writer, shared with the layer unpacker (one job at a time). */
  readonly writer = new HashWriter();
  /** Blobs written with placeLater whose fsync and rename have not finished, by digest (see ingestChunks). */
  private readonly placing = new Map<Digest, Promise<void>>();
  /** What made a placeLater blob fail, for allPlaced() to report. */
  private readonly placeFailures: unknown[] = [];

  constructor(readonly root: string) {}

  async close(): Promise<void> {
    // a failed build closes the store too: its blobs still being placed finish (or remove their temp files) first
    await this.allPlaced().catch(() => undefined);
    await this.writer.close();
  }

  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  path(digest: Digest): string {
    return join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  /** A stat without the thread pool (it is on the path of every cache lookup). */
  async has(digest: Digest): Promise<boolean> {
    if (this.placing.has(digest)) await this.whenPlaced(digest);
    return statSync(this.path(digest), { throwIfNoEntry: false })?.isFile() ?? false;
  }

  async size(digest: Digest): Promise<number> {
    await this.whenPlaced(digest);
    try {
      return (await stat(this.path(digest))).size;
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(digest, this.path(digest));
      throw e;
    }
  }

  async open(digest: Digest): Promise<Readable> {
    await this.whenPlaced(digest);
    const p = this.path(digest);
    const fh = await open(p, 'r').catch((e: unknown) => {
      if (isNotFound(e)) throw new BlobNotFoundError(digest, p);
      throw e;
    });
    return fh.createReadStream();
  }

  async read(digest: Digest): Promise<Buffer> {
    await this.whenPlaced(digest);
    try {
      return await readFile(this.path(digest));
    } catch (e) {
      if (isNotFound(e)) throw new BlobNotFoundError(digest, this.path(digest));
      throw e;
    }
  }

  /**
   * Streams `src` into the store. With `expected`, the content must match (digest, and size when given) or nothing
   * is kept. `beforePlace` runs with the digest once the content is hashed and before it is renamed into place (a
   * caller takes its lease there, so a concurrent prune cannot remove the new blob).
   */
  async ingest(
    src: Readable,
    expected?: { digest: Digest; size?: number },
    beforePlace?: (digest: Digest) => Promise<void>,
  ): Promise<{ digest: Digest; size: number }> {
    if (expected && (await this.has(expected.digest))) {
      src.resume();
      return { digest: expected.digest, size: await this.size(expected.digest) };
    }
    const tmp = tempName(this.tmpDir, 'blob');
    const hasher = new DigestingStream();
    try {
      const fh = await open(tmp, 'w', 0o644);
      // A failed source (a dropped download) destroys the write stream, which closes the fd despite autoClose:
      // the source's error is the one to report, not the EBADF of closing it again.
      let failure: unknown;
      try {
        await pipeline(src, hasher, createWriteStream('', { fd: fh.fd, autoClose: false, highWaterMark: 1 << 20 }));
        await fh.sync();
      } catch (e) {
        failure = e;
      }
      await fh.close().catch((e: unknown) => {
        failure ??= e;
      });
      if (failure !== undefined) throw failure;
      const digest = hasher.digest();
      if (expected && (digest !== expected.digest || (expected.size !== undefined && expected.size !== hasher.size))) {
        throw new DigestMismatchError(expected.digest, digest, expected.size, hasher.size);
      }
      await beforePlace?.(digest);
      await this.place(tmp, digest);
      return { digest, size: hasher.size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * Writes chunks that are only valid until the next is asked for (diffChunks): each is hashed and written
   * synchronously before the iteration goes on; a FileBody's content is copied in its place. No digest is known
   * in advance. With `placeLater`, it returns once the content is written and hashed and `beforePlace` has run: the
   * fsync and the rename go on meanwhile (a build's next steps overlap the disk's writing), and this store waits for
   * them before it answers for that digest (has, size, open, read) and in allPlaced().
   */
  async ingestChunks(
    chunks: AsyncIterable<Buffer | FileBody>,
    beforePlace?: (digest: Digest) => Promise<void>,
    placeLater = false,
  ): Promise<{ digest: Digest; size: number }> {
    const tmp = tempName(this.tmpDir, 'blob');
    try {
      // Free second core: this thread produces and writes, the worker hashes behind it. Busy: all on this thread.
      const { digest, size } = this.writer.busy
        ? await this.writeHashing(tmp, chunks, !placeLater)
        : await this.writer.writeFollowed(tmp, chunks, !placeLater);
      await beforePlace?.(digest);
      if (placeLater) this.placeAfterSync(tmp, digest);
      else await this.place(tmp, digest);
      return { digest, size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** fsyncs the temp file `tmp` and renames it into place as `digest`, in the background (see ingestChunks). */
  private placeAfterSync(tmp: string, digest: Digest): void {
    const before = this.placing.get(digest);
    const p = (async () => {
      await before?.catch(() => undefined);
      try {
        const fh = await open(tmp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await this.place(tmp, digest);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    })();
    this.placing.set(digest, p);
    const done = (): void => {
      if (this.placing.get(digest) === p) this.placing.delete(digest);
    };
    p.then(done, (e: unknown) => {
      done();
      this.placeFailures.push(e);
    });
  }

  /** Waits for a blob of `digest` still being placed; a failed placement leaves the blob absent. */
  private async whenPlaced(digest: Digest): Promise<void> {
    await this.placing.get(digest)?.catch(() => undefined);
  }

  /** Resolves once every blob written with placeLater is durable and in place; rejects with a failure of one. */
  async allPlaced(): Promise<void> {
    while (this.placing.size > 0) await Promise.allSettled([...this.placing.values()]);
    const failures = this.placeFailures.splice(0);
    if (failures.length > 0) throw failures[0];
  }

  /** ingestChunks on this thread alone: hashes and writes each chunk before asking for the next; fsyncs at the end. */
  private async writeHashing(
    tmp: string,
    chunks: AsyncIterable<Buffer | FileBody>,
    sync: boolean,
  ): Promise<{ digest: Digest; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(tmp, 'w', 0o644);
    try {
      let buf: Buffer | undefined;
      for await (const item of chunks) {
        const pieces = Buffer.isBuffer(item) ? [item] : readFileBody(item, (buf ??= Buffer.allocUnsafe(1 << 20)));
        for (const c of pieces) {
          hash.update(c);
          let off = 0;
          while (off < c.length) off += writeSync(fh.fd, c, off, c.length - off);
          size += c.length;
        }
      }
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    return { digest: `sha256:${hash.digest('hex')}` as Digest, size };
  }

  /** Moves a complete, already verified temp file into place under its digest. */
  async place(tmp: string, digest: Digest): Promise<void> {
    await rename(tmp, this.path(digest));
  }

  async putBytes(
    bytes: Uint8Array,
    expectedDigest?: Digest,
    beforePlace?: (digest: Digest) => Promise<void>,
  ): Promise<{ digest: Digest; size: number }> {
    const digest = digestOf(bytes);
    if (expectedDigest && digest !== expectedDigest) throw new DigestMismatchError(expectedDigest, digest);
    await beforePlace?.(digest);
    if (await this.has(digest)) return { digest, size: bytes.length };
    const tmp = tempName(this.tmpDir, 'blob');
    try {
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.place(tmp, digest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return { digest, size: bytes.length };
  }

  async remove(digest: Digest): Promise<void> {
    await rm(this.path(digest), { force: true });
  }
}
