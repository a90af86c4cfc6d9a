// The local store's Layers (store/api.ts): layer directories (layers.ts) unpacked from, and committed into, the
// store's blobs (local-blobs.ts).
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { tee } from '../oci/index.js';
import {
  DEFAULT_COMPRESSION,
  DamagedContentError,
  compressionOfMediaType,
  type LayerCompression,
} from '../oci/index.js';
import { decompressed } from './decompress.js';
import { digestHex, EMPTY_LAYER_DIFF_ID, EMPTY_LAYER_GZIP, isDigest } from '../oci/index.js';
import { MediaType, type Descriptor, type Digest } from '../oci/index.js';
import type { CommitOptions, CommittedLayer, ExpectedDiffID, ImageRecord, Layers } from './api.js';
import { BlobNotFoundError } from './errors.js';
import { isNotFound, tempName, writeFileAtomic } from './fsutil.js';
import { diffIDMismatch, treeLine, writeTreeRecord, type LayerDirs } from './layers.js';
import { needsGunzip, withLazy } from './lazy.js';
import { PremadeMismatch } from './layer-tar/premade.js';
import type { Leases } from './leases.js';
import type { LocalBlobs } from './local-blobs.js';

export class LocalLayers implements Layers {
  constructor(
    private readonly root: string,
    private readonly blobs: LocalBlobs,
    readonly dirs: LayerDirs,
    private readonly leases: Leases,
  ) {}

  diffIDOf(layer: Descriptor): Promise<Digest | undefined> {
    return this.dirs.diffIDOf(layer);
  }
  async lowerdir(diffID: Digest): Promise<string | undefined> {
    // leased before the check: a layer found unpacked stays
    await this.leases.touch([diffID]);
    if (!(await this.dirs.isUnpacked(diffID))) return undefined;
    return this.dirs.lowerdir(diffID);
  }
  async unpack(layer: Descriptor, expectDiffID?: ExpectedDiffID): Promise<{ diffID: Digest; dir: string }> {
    await this.leases.touch([layer.digest]);
    const known = await this.knownDiffID(layer, expectDiffID);
    if (known) {
      const dir = await this.lowerdir(known);
      if (dir) return { diffID: known, dir };
    }
    if (!(await this.blobs.files.has(layer.digest))) {
      const rec = await this.blobs.lazySource(layer.digest);
      if (!rec) throw new BlobNotFoundError(layer.digest, this.blobs.files.path(layer.digest));
      // A lazy layer is downloaded once, into its blob and the unpacker at the same time (as a pull does).
      return this.blobs.once(`unpack ${layer.digest}`, async () => {
        if (await this.blobs.files.has(layer.digest)) return this.unpack(layer, expectDiffID);
        let r: { diffID: Digest; dir: string } | undefined;
        await withLazy(rec, this.blobs.remote, (src) =>
          tee(
            src,
            (a) => this.blobs.files.ingest(a, { digest: layer.digest, size: rec.descriptor.size }),
            async (b) => (r = await this.unpackStream(layer, b, expectDiffID)),
          ),
        );
        return r!;
      });
    }
    const r = await this.dirs.unpackBlobFile(
      layer,
      this.blobs.files.path(layer.digest),
      known ?? expectDiffID,
      this.blobs.touch,
    );
    await this.leases.touch([r.diffID]);
    return r;
  }
  async unpackStream(
    layer: Descriptor,
    src: Readable,
    expectDiffID?: ExpectedDiffID,
  ): Promise<{ diffID: Digest; dir: string }> {
    await this.leases.touch([layer.digest]);
    let known: Digest | undefined;
    try {
      known = await this.knownDiffID(layer, expectDiffID);
    } catch (e) {
      src.destroy();
      throw e;
    }
    if (known) {
      const dir = await this.lowerdir(known);
      if (dir) {
        src.resume();
        await new Promise<void>((res, rej) => {
          if (src.readableEnded) return res();
          src.once('end', res);
          src.once('error', rej);
        });
        return { diffID: known, dir };
      }
    }
    const r = await this.dirs.unpackStream(layer, src, known ?? expectDiffID, this.blobs.touch);
    await this.leases.touch([r.diffID]);
    return r;
  }
  /**
   * The diffID this store recorded for a layer blob (it hashed the tar itself), checked against the image's. With
   * no record, the unpack checks the image's diffID (awaited only when the tar has been read).
   */
  private async knownDiffID(layer: Descriptor, expectDiffID: ExpectedDiffID | undefined): Promise<Digest | undefined> {
    const known = await this.dirs.diffIDOf(layer);
    const expected = known ? await expectDiffID : undefined;
    if (known && expected && known !== expected) throw diffIDMismatch(layer, known, expected);
    return known;
  }
  async lowerdirsFor(image: ImageRecord): Promise<string[]> {
    const ids = image.config.rootfs?.diff_ids ?? [];
    const layers = image.manifest.layers;
    const out: string[] = new Array<string>(layers.length);
    // Layers still to unpack (lazy ones still to download) come in four at a time, as a pull's would.
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < layers.length; i = next++) {
        const diffID = ids[i] ?? (await this.dirs.diffIDOf(layers[i]!));
        const dir = diffID ? await this.lowerdir(diffID) : undefined;
        out[i] = dir ?? (await this.unpack(layers[i]!, ids[i])).dir;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return out;
  }
  async commit(upperdir: string, opts: CommitOptions = {}): Promise<CommittedLayer> {
    if (!opts.premade) return this.commitOnce(upperdir, opts);
    try {
      return await this.commitOnce(upperdir, opts);
    } catch (e) {
      if (!(e instanceof PremadeMismatch)) throw e;
      // the upperdir is what counts: walked again in full (its blob and tree record so far were removed)
      const { premade: _, ...rest } = opts;
      return this.commitOnce(upperdir, rest);
    }
  }

  private async commitOnce(upperdir: string, opts: CommitOptions): Promise<CommittedLayer> {
    const stats = { entries: 0 };
    // The tree record goes to a file as the walk meets each entry, in walk order (verify compares it as a set): a
    // layer's many lines never sit in the heap, which kept V8's old space larger for the whole commit.
    const treeTmp = tempName(join(this.root, 'tmp'), 'tree');
    const treeFd = openSync(treeTmp, 'w', 0o644);
    let pendingLines = '';
    const onStat = (rel: string, st: import('node:fs').Stats, link: string): void => {
      pendingLines += treeLine(rel, st, link) + '\n';
      if (pendingLines.length >= 1 << 16) {
        writeSync(treeFd, pendingLines);
        pendingLines = '';
      }
    };
    let treeOpen = true;
    const closeTree = (): void => {
      if (!treeOpen) return;
      treeOpen = false;
      try {
        if (pendingLines) writeSync(treeFd, pendingLines);
      } finally {
        pendingLines = '';
        closeSync(treeFd);
      }
    };
    try {
      // The layer codec loads only when a step commits or a layer is compressed: a no-op rebuild never needs it.
      const { diffChunks } = await import('./layer-tar/diff.js');
      const tar = diffChunks(
        upperdir,
        {
          onStat,
          ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
          ...(opts.premade ? { premade: opts.premade } : {}),
        },
        stats,
      );
      // the blob's fsync and rename overlap the build's next steps (BlobStore.ingestChunks)
      const { digest, size } = await this.blobs.files.ingestChunks(tar, this.blobs.touch, true);
      closeTree();
      const descriptor: Descriptor = { mediaType: MediaType.OciLayer, digest, size };
      if (!(await this.dirs.isUnpacked(digest))) {
        const tmp = this.dirs.newTempLayer();
        await mkdir(tmp, { recursive: true });
        try {
          const ours = resolve(upperdir).startsWith(join(this.root, 'run') + '/');
          if (ours) {
            // already in overlay format: move it, then leave an empty upperdir for the caller's release()
            await opts.beforeMove?.();
            await rename(upperdir, join(tmp, 'diff'));
            await mkdir(upperdir);
            await rename(treeTmp, join(tmp, 'tree'));
          } else {
            await mkdir(join(tmp, 'diff'));
            const { unpackTar } = await import('./layer-tar/unpack.js');
            await unpackTar(await this.blobs.files.open(digest), join(tmp, 'diff'), { digest });
            await writeTreeRecord(join(tmp, 'diff'), join(tmp, 'tree'));
          }
          await this.dirs.install(tmp, digest);
        } catch (e) {
          await rm(tmp, { recursive: true, force: true });
          throw e;
        }
      }
      return { descriptor, diffID: digest, empty: stats.entries === 0 };
    } finally {
      closeTree();
      await rm(treeTmp, { force: true });
    }
  }
  async compressed(layer: Descriptor, compression: LayerCompression = DEFAULT_COMPRESSION): Promise<Descriptor> {
    const have = compressionOfMediaType(layer.mediaType);
    const want = compression.type;
    // As BuildKit: a layer keeps the compression it has unless force-compression asks for another.
    if (have === want || (have !== 'uncompressed' && !compression.force)) return layer;
    const keep = layer.annotations ? { annotations: layer.annotations } : {};
    const diffID = have === 'uncompressed' ? layer.digest : await this.dirs.diffIDOf(layer);
    if (want === 'uncompressed') return { ...(await this.uncompressed(layer, diffID)), ...keep };
    const level = compression.level;
    // gzip at the default level keeps the record name it always had; every other kind gets a suffix
    const variant = want === 'gzip' && level === undefined ? '' : `.${want}${level !== undefined ? `-${level}` : ''}`;
    const mediaType = want === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayerGzip;
    const record = diffID ? join(this.root, 'compressed', digestHex(diffID) + variant) : undefined;
    try {
      const d = record ? (await readFile(record, 'utf8')).trim() : '';
      if (isDigest(d) && (await this.blobs.has(d)))
        return { mediaType, digest: d, size: await this.blobs.size(d), ...keep };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (have === 'uncompressed' && variant === '') {
      // A layer that came lazily from a registry cache: that cache's gzip blob is its compressed form (the digest
      // the exporting machine pushed), whether or not the layer was downloaded since.
      const lazy = await this.blobs.lazy.get(layer.digest);
      const gzSources = (lazy?.sources ?? []).filter((s) => needsGunzip(layer, s));
      const gz = gzSources[0]?.blob;
      if (gz) {
        await this.leases.touch([gz.digest]);
        if (!(await this.blobs.files.has(gz.digest)))
          this.blobs.lazyGzip.set(gz.digest, {
            descriptor: { ...gz },
            sources: gzSources.filter((s) => s.blob.digest === gz.digest),
          });
        return { ...gz, ...keep };
      }
    }
    let made: { digest: Digest; size: number; diffID: Digest };
    if (have === 'uncompressed') {
      let chunks: AsyncIterable<Buffer>;
      if (layer.digest === EMPTY_LAYER_DIFF_ID && variant === '') {
        // BuildKit's bytes for the empty layer (our gzip's would differ): the same digest as in BuildKit's images
        chunks = (async function* () {
          yield EMPTY_LAYER_GZIP;
        })();
      } else {
        await this.blobs.fetch(layer.digest);
        if (!(await this.blobs.files.has(layer.digest)))
          throw new BlobNotFoundError(layer.digest, this.blobs.files.path(layer.digest));
        const path = this.blobs.files.path(layer.digest);
        const opts = { expect: { digest: layer.digest, size: layer.size }, ...(level !== undefined ? { level } : {}) };
        chunks =
          want === 'zstd'
            ? (await import('./layer-tar/zstd.js')).parallelZstdFile(path, opts)
            : (await import('./layer-tar/gzip.js')).parallelGzipFile(path, opts);
      }
      made = { ...(await this.blobs.files.ingestChunks(chunks, this.blobs.touch)), diffID: layer.digest };
    } else {
      // Recompressed from the blob it has: decompressed, hashed (the tar must be the diffID), compressed again.
      const tar = hashedTar(await decompressed(await this.blobs.open(layer.digest)), diffID);
      const chunks =
        want === 'zstd'
          ? (await import('./layer-tar/zstd.js')).parallelZstd(tar.chunks, level !== undefined ? { level } : {})
          : (await import('./layer-tar/gzip.js')).parallelGzip(tar.chunks, level !== undefined ? { level } : {});
      const r = await this.blobs.files.ingestChunks(chunks, this.blobs.touch);
      made = { ...r, diffID: tar.digest() };
      if (!diffID) await this.dirs.recordDiffID(layer.digest, made.diffID);
    }
    await this.dirs.recordDiffID(made.digest, made.diffID);
    await writeFileAtomic(join(this.root, 'compressed', digestHex(made.diffID) + variant), made.digest);
    return { mediaType, digest: made.digest, size: made.size, ...keep };
  }

  /** The layer's tar as a blob: present when the layer was built here, else decompressed from its blob. */
  private async uncompressed(layer: Descriptor, diffID: Digest | undefined): Promise<Descriptor> {
    if (diffID && (await this.blobs.files.has(diffID)))
      return { mediaType: MediaType.OciLayer, digest: diffID, size: await this.blobs.size(diffID) };
    const tar = await decompressed(await this.blobs.open(layer.digest));
    const r = await this.blobs.files.ingest(tar, diffID ? { digest: diffID } : undefined, this.blobs.touch);
    await this.dirs.recordDiffID(layer.digest, r.digest);
    return { mediaType: MediaType.OciLayer, digest: r.digest, size: r.size };
  }
}

/** Chunks of a tar stream, hashed on the way; the last read fails when they are not the expected diffID. */
function hashedTar(src: Readable, expect: Digest | undefined): { chunks: AsyncIterable<Buffer>; digest: () => Digest } {
  const hash = createHash('sha256');
  let digest: Digest | undefined;
  let size = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const c of src as AsyncIterable<Buffer>) {
      hash.update(c);
      size += c.length;
      yield c;
    }
    digest = `sha256:${hash.digest('hex')}` as Digest;
    if (expect && digest !== expect) throw new DamagedContentError(expect, { digest, size }, undefined, 'layer');
  }
  return { chunks: chunks(), digest: () => digest! };
}
