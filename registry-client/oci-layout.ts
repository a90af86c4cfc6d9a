// An OCI image layout directory (image-spec `oci-layout`, `index.json`, `blobs/sha256/…`) as a pull target and a
// push source: `tsbuild pull` into a plain directory that skopeo and umoci read, and a store-independent source
// for benchmarks and interop tests. Layers are not unpacked here.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { DigestingStream, digestHex, digestOf } from '../oci/index.js';
import { MediaType, type Descriptor, type Digest, type ImageIndex, type LayerCompression } from '../oci/index.js';
import type { PullTarget } from './pull.js';
import type { PushSource } from './push.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

export class OciLayoutError extends Error {
  override name = 'OciLayoutError';
  constructor(
    message: string,
    readonly path: string,
    readonly digest?: string,
  ) {
    super(message);
  }
}

export class OciLayout implements PullTarget, PushSource {
  private seq = 0;
  private indexLock: Promise<void> = Promise.resolve();

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<OciLayout> {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const l = new OciLayout(dir);
    try {
      await stat(join(dir, 'index.json'));
    } catch {
      await writeFile(
        join(dir, 'index.json'),
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }),
      );
    }
    return l;
  }

  blobPath(d: Digest): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(d));
  }

  async hasBlob(d: Digest): Promise<boolean> {
    return stat(this.blobPath(d)).then(
      () => true,
      () => false,
    );
  }

  async writeBlob(
    src: Readable,
    expected: { digest: Digest; size?: number },
  ): Promise<{ digest: Digest; size: number }> {
    const tmp = join(this.dir, 'blobs', `.tmp-${process.pid}-${this.seq++}`);
    const hash = new DigestingStream({ highWaterMark: 4 << 20 });
    try {
      await pipeline(src, hash, createWriteStream(tmp, { highWaterMark: 4 << 20 }));
      const digest = hash.digest();
      if (digest !== expected.digest)
        throw new OciLayoutError(`blob digest ${digest} does not match ${expected.digest}`, tmp, expected.digest);
      if (expected.size !== undefined && hash.size !== expected.size)
        throw new OciLayoutError(`blob ${digest} has ${hash.size} bytes, expected ${expected.size}`, tmp, digest);
      await rename(tmp, this.blobPath(digest));
      return { digest, size: hash.size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async putBytes(bytes: Uint8Array, mediaType: string, expectedDigest?: Digest): Promise<Descriptor> {
    const digest = digestOf(bytes);
    if (expectedDigest && digest !== expectedDigest)
      throw new OciLayoutError(`content digest ${digest} does not match ${expectedDigest}`, this.dir, expectedDigest);
    if (!(await this.hasBlob(digest))) {
      const tmp = join(this.dir, 'blobs', `.tmp-${process.pid}-${this.seq++}`);
      await writeFile(tmp, bytes);
      await rename(tmp, this.blobPath(digest));
    }
    return { mediaType, digest, size: bytes.length };
  }

  async readBytes(d: Digest): Promise<Buffer> {
    return readFile(this.blobPath(d)).catch((e: unknown) => {
      throw new OciLayoutError(`blob ${d} is missing: ${(e as Error).message}`, this.blobPath(d), d);
    });
  }

  async openBlob(d: Digest): Promise<Readable> {
    if (!(await this.hasBlob(d))) throw new OciLayoutError(`blob ${d} is missing`, this.blobPath(d), d);
    return createReadStream(this.blobPath(d), { highWaterMark: 1 << 20 });
  }

  async blobSize(d: Digest): Promise<number> {
    return (await stat(this.blobPath(d))).size;
  }

  async readIndex(): Promise<ImageIndex> {
    return JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as ImageIndex;
  }

  /** Points `name` (stored as the ref.name annotation) at a manifest, replacing an earlier entry of that name. */
  async tag(name: string, target: Descriptor): Promise<void> {
    const run = this.indexLock.then(async () => {
      const index = await this.readIndex();
      index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== name);
      index.manifests.push({
        mediaType: target.mediaType,
        digest: target.digest,
        size: target.size,
        annotations: { [REF_NAME]: name },
      });
      const tmp = join(this.dir, `.index-${process.pid}-${this.seq++}`);
      await writeFile(tmp, JSON.stringify(index));
      await rename(tmp, join(this.dir, 'index.json'));
    });
    this.indexLock = run.catch(() => undefined);
    return run;
  }

  /** The descriptor tagged `name`, or the only one when the layout holds one image and no name is given. */
  async resolve(name?: string): Promise<Descriptor | undefined> {
    const index = await this.readIndex();
    if (!name) return index.manifests.length === 1 ? index.manifests[0] : undefined;
    return index.manifests.find((d) => d.annotations?.[REF_NAME] === name);
  }

  async unpackLayerStream(layer: Descriptor): Promise<{ diffID: Digest; dir: string }> {
    throw new OciLayoutError(
      `an OCI layout does not unpack layers (${layer.digest}); pull with unpack: false`,
      this.dir,
      layer.digest,
    );
  }

  async diffIDOf(): Promise<Digest | undefined> {
    return undefined;
  }

  /** Gzips an uncompressed layer into a new blob (level 1: push time matters more than a few percent of size). */
  async compressedLayer(layer: Descriptor, compression?: LayerCompression): Promise<Descriptor> {
    if (layer.mediaType !== MediaType.OciLayer && layer.mediaType !== MediaType.DockerLayer) return layer;
    if (compression && compression.type !== 'gzip')
      throw new OciLayoutError(
        `a push from an OCI layout writes gzip layers only (asked: ${compression.type})`,
        this.dir,
      );
    const { digest, size } = await this.writeBlobUnchecked(
      createReadStream(this.blobPath(layer.digest)).pipe(createGzip({ level: 1 })),
    );
    return { mediaType: MediaType.OciLayerGzip, digest, size };
  }

  private async writeBlobUnchecked(src: Readable): Promise<{ digest: Digest; size: number }> {
    const tmp = join(this.dir, 'blobs', `.tmp-${process.pid}-${this.seq++}`);
    const hash = new DigestingStream({ highWaterMark: 4 << 20 });
    try {
      await pipeline(src, hash, createWriteStream(tmp, { highWaterMark: 4 << 20 }));
      await rename(tmp, this.blobPath(hash.digest()));
      return { digest: hash.digest(), size: hash.size };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
