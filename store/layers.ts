// Unpacked layers for overlay, keyed by diffID: layers/<hex>/diff (the tree), layers/<hex>/link (its short name),
// layers/<hex>/tree (a record of every entry: path, type, mode, owner, size, ctime; `store verify` checks it), and
// l/<SHORT> → ../layers/<hex>/diff, so that 120 lowerdirs fit in one page of mount options (Docker's overlay2 way).
// Blob → diffID records live in diffids/<blob hex>.
import * as fs from 'node:fs';
import { mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ExpectedDiffID } from './api.js';
import type { HashWriter } from './hash-writer.js';
import { DigestingStream, digestHex, isDigest } from '../oci/index.js';
import { MediaType, type Descriptor, type Digest } from '../oci/index.js';
import { DigestMismatchError, LayerError, StoreError } from './errors.js';
import { decompressed, detectCompression } from './decompress.js';
import { writeLines } from './tree.js';
import { isNotFound, tempName, writeFileAtomic } from './fsutil.js';

const SHORT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function shortId(): string {
  const b = randomBytes(8);
  let s = '';
  for (let i = 0; i < 8; i++) s += SHORT_ALPHABET[b[i]! & 31];
  return s;
}

async function isZstdFile(path: string): Promise<boolean> {
  const fh = await fs.promises.open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return detectCompression(head.subarray(0, bytesRead)) === 'zstd';
  } finally {
    await fh.close();
  }
}

export function isUncompressedLayer(mt: string): boolean {
  return mt === MediaType.OciLayer || mt === MediaType.DockerLayer;
}

export class LayerDirs {
  /** `hasher`: a second-thread hasher to compute diffIDs off the main thread when it is free. */
  constructor(
    readonly root: string,
    private readonly hasher?: HashWriter,
  ) {}

  layerDir(diffID: Digest): string {
    return join(this.root, 'layers', digestHex(diffID));
  }

  diffDir(diffID: Digest): string {
    return join(this.layerDir(diffID), 'diff');
  }

  async isUnpacked(diffID: Digest): Promise<boolean> {
    return fs.promises.stat(this.diffDir(diffID)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  /**
   * l/<SHORT> for an unpacked layer. A short link that is missing (removed by an older prune while the layer was
   * being installed) is made again here, so the next pull or run repairs it.
   */
  async lowerdir(diffID: Digest): Promise<string | undefined> {
    let id: string;
    try {
      id = (await readFile(join(this.layerDir(diffID), 'link'), 'utf8')).trim();
    } catch (e) {
      if (!isNotFound(e)) throw e;
      if (!(await this.isUnpacked(diffID))) return undefined;
      id = await this.newLink(diffID);
      await writeFileAtomic(join(this.layerDir(diffID), 'link'), id);
      return join(this.root, 'l', id);
    }
    const path = join(this.root, 'l', id);
    if (!fs.lstatSync(path, { throwIfNoEntry: false })) {
      await symlink(this.linkTarget(diffID), path).catch((e: unknown) => {
        if ((e as { code?: string }).code !== 'EEXIST') throw e;
      });
    }
    return path;
  }

  private linkTarget(diffID: Digest): string {
    return `../layers/${digestHex(diffID)}/diff`;
  }

  /** A new short name in l/ pointing at the layer's diff dir (which may not be in place yet). */
  private async newLink(diffID: Digest): Promise<string> {
    for (;;) {
      const id = shortId();
      try {
        await symlink(this.linkTarget(diffID), join(this.root, 'l', id));
        return id;
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST') throw e;
      }
    }
  }

  async diffIDOf(layer: Descriptor): Promise<Digest | undefined> {
    if (isUncompressedLayer(layer.mediaType)) return layer.digest;
    try {
      const d = (await readFile(join(this.root, 'diffids', digestHex(layer.digest)), 'utf8')).trim();
      return isDigest(d) ? d : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async recordDiffID(blob: Digest, diffID: Digest): Promise<void> {
    if (blob === diffID) return;
    await writeFileAtomic(join(this.root, 'diffids', digestHex(blob)), diffID);
  }

  /**
   * Moves a finished tree (`tmpLayer/diff`) into place as the layer `diffID`, with its short link. When another
   * process got there first, ours is dropped. Returns the lowerdir. The link is made first, so a layer in place
   * always has one; until the rename it points nowhere, and prune keeps it because the caller leased `diffID`.
   */
  async install(tmpLayer: string, diffID: Digest): Promise<string> {
    const final = this.layerDir(diffID);
    if (await this.isUnpacked(diffID)) {
      await rm(tmpLayer, { recursive: true, force: true });
      return (await this.lowerdir(diffID))!;
    }
    const id = await this.newLink(diffID);
    await writeFile(join(tmpLayer, 'link'), id);
    try {
      await rename(tmpLayer, final);
    } catch (e) {
      const code = (e as { code?: string }).code;
      await rm(join(this.root, 'l', id), { force: true });
      await rm(tmpLayer, { recursive: true, force: true });
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await this.isUnpacked(diffID)))
        return (await this.lowerdir(diffID))!;
      throw e;
    }
    return join(this.root, 'l', id);
  }

  newTempLayer(): string {
    return tempName(join(this.root, 'layers'), 'tmp');
  }

  /**
   * Unpacks a layer blob stream (any compression) into a new layer dir. Verifies the blob against `layer` (digest
   * and size), computes the diffID, records blob → diffID.
   */
  async unpackStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: ExpectedDiffID,
    beforeInstall?: (diffID: Digest) => Promise<void>,
    /** false for a blob already in the store (verified when it was written; `store verify` re-checks it). */
    verifyBlob = true,
  ): Promise<{ diffID: Digest; dir: string }> {
    const tmp = this.newTempLayer();
    await mkdir(join(tmp, 'diff'), { recursive: true });
    const blobHash = new DigestingStream();
    const tarHash = new DigestingStream();
    let job: ReturnType<HashWriter['begin']> | undefined;
    try {
      let input: Readable = src;
      if (verifyBlob) {
        src.on('error', (e) => blobHash.destroy(e));
        input = src.pipe(blobHash);
      }
      const raw = await decompressed(input);
      const wrapErr = (e: Error): Error =>
        e instanceof LayerError
          ? e
          : new LayerError(`cannot read layer ${layer.digest}: ${e.message}`, {
              digest: layer.digest,
              cause: e,
            });
      let diffID: Digest;
      const { unpackTar } = await import('./layer-tar/unpack.js');
      let stats: Awaited<ReturnType<typeof unpackTar>>;
      if (this.hasher && !this.hasher.busy) {
        // the diffID is hashed on the second thread while this one writes files
        job = this.hasher.begin('/dev/null');
        const j = job;
        const tee = async function* (): AsyncGenerator<Buffer> {
          try {
            for await (const c of raw as AsyncIterable<Buffer>) {
              await j.push(c);
              yield c;
            }
          } catch (e) {
            throw wrapErr(e as Error);
          }
        };
        stats = await unpackTar(Readable.from(tee(), { objectMode: false }), join(tmp, 'diff'), {
          digest: layer.digest,
          record: true,
        });
        job = undefined;
        diffID = (await j.end()).digest;
      } else {
        raw.on('error', (e) => tarHash.destroy(wrapErr(e)));
        raw.pipe(tarHash);
        stats = await unpackTar(tarHash, join(tmp, 'diff'), {
          digest: layer.digest,
          record: true,
        });
        // drain what follows the end-of-archive marker so the digests cover the whole blob
        if (!tarHash.readableEnded) {
          tarHash.resume();
          await new Promise<void>((res, rej) => {
            tarHash.once('end', res);
            tarHash.once('error', rej);
          });
        }
        diffID = tarHash.digest();
      }
      if (
        verifyBlob &&
        (blobHash.digest() !== layer.digest ||
          (layer.size !== undefined && layer.size >= 0 && blobHash.size !== layer.size))
      ) {
        throw new DigestMismatchError(layer.digest, blobHash.digest(), layer.size, blobHash.size);
      }
      return await this.finishUnpack(layer, tmp, diffID, stats.tree!, expectDiffID, beforeInstall);
    } catch (e) {
      src.destroy();
      await job?.abort();
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Checks the diffID, records it and the tree, and moves the unpacked layer from `tmp` into place. The check comes
   * first: a layer that fails it is never installed, and the caller removes `tmp`.
   */
  private async finishUnpack(
    layer: Descriptor,
    tmp: string,
    diffID: Digest,
    tree: string[],
    expectDiffID: ExpectedDiffID | undefined,
    beforeInstall: ((diffID: Digest) => Promise<void>) | undefined,
  ): Promise<{ diffID: Digest; dir: string }> {
    const expected = await expectDiffID;
    if (expected && diffID !== expected) throw diffIDMismatch(layer, diffID, expected);
    await this.recordDiffID(layer.digest, diffID);
    await writeLines(join(tmp, 'tree'), tree);
    await beforeInstall?.(diffID);
    const dir = await this.install(tmp, diffID);
    return { diffID, dir };
  }

  /**
   * Unpacks a layer blob already in the store. When the second thread is free it reads, decompresses and hashes
   * the blob while this thread only writes files (the blob was verified when it was written).
   */
  async unpackBlobFile(
    layer: Descriptor,
    path: string,
    expectDiffID?: ExpectedDiffID,
    beforeInstall?: (diffID: Digest) => Promise<void>,
  ): Promise<{ diffID: Digest; dir: string }> {
    const inline = (): Promise<{ diffID: Digest; dir: string }> =>
      this.unpackStream(
        layer,
        fs.createReadStream(path, { highWaterMark: 1 << 20 }),
        expectDiffID,
        beforeInstall,
        false,
      );
    // the second thread gunzips; a zstd blob is decompressed on this one, as a pulled stream is
    if (!this.hasher || this.hasher.busy || (await isZstdFile(path))) return inline();
    const tmp = this.newTempLayer();
    await mkdir(join(tmp, 'diff'), { recursive: true });
    // Checked again: another unpack may have taken the thread while this one awaited the mkdir.
    if (this.hasher.busy) {
      await rm(tmp, { recursive: true, force: true });
      return inline();
    }
    const job = this.hasher.inflate(path);
    try {
      // pulled directly (no stream in between): each chunk is read only when the tar reader needs it
      const { unpackTar } = await import('./layer-tar/unpack.js');
      const stats = await unpackTar(job.chunks, join(tmp, 'diff'), {
        digest: layer.digest,
        record: true,
        writer: job.files,
      });
      // the tar reader reads to the end of the input, so the worker has hashed all of it
      const { digest: diffID } = await job.result;
      return await this.finishUnpack(layer, tmp, diffID, stats.tree!, expectDiffID, beforeInstall);
    } catch (e) {
      await job.files?.abort();
      await job.chunks.return(undefined);
      await rm(tmp, { recursive: true, force: true });
      if (e instanceof StoreError) throw e;
      throw new LayerError(`cannot unpack layer ${layer.digest}: ${(e as Error).message}`, {
        digest: layer.digest,
        cause: e,
      });
    }
  }

  async removeLayer(diffID: Digest): Promise<void> {
    const id = (await readFile(join(this.layerDir(diffID), 'link'), 'utf8').catch(() => '')).trim();
    const trash = tempName(join(this.root, 'layers'), 'trash');
    await rename(this.layerDir(diffID), trash).catch(() => undefined);
    if (id) await rm(join(this.root, 'l', id), { force: true });
    await rm(trash, { recursive: true, force: true });
  }

  /** The names in l/ (prune lists them before it reads the leases). */
  async listLinks(): Promise<string[]> {
    return fs.promises.readdir(join(this.root, 'l')).catch(() => [] as string[]);
  }

  /**
   * Removes short links pointing nowhere (a crash between link and rename), among `names`, except those whose
   * layer is in `held` (a live process is installing it: its link comes before its rename).
   */
  async cleanLinks(names: string[], held: Set<string>): Promise<void> {
    const ldir = join(this.root, 'l');
    for (const n of names) {
      const t = await readlink(join(ldir, n)).catch(() => undefined);
      if (t === undefined) continue;
      const hex = /^\.\.\/layers\/([a-f0-9]{64})\/diff$/.exec(t)?.[1];
      if (hex !== undefined && held.has(`sha256:${hex}`)) continue;
      if (!fs.existsSync(join(ldir, t))) await rm(join(ldir, n), { force: true });
    }
  }
}

/** A layer whose tar does not hash to the diffID its image (or this store's own record) gives it. */
export function diffIDMismatch(layer: Descriptor, actual: Digest, expected: Digest): StoreError {
  return new StoreError(
    `layer ${layer.digest} unpacks to diffID ${actual}, but its image config lists ${expected}: the image does not match its layers; nothing was unpacked`,
    {
      digest: layer.digest,
    },
  );
}

export { treeLine, walkTree, writeTreeRecord } from './tree.js';
