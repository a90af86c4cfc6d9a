// Lazy blobs: blobs an image names that the store has recorded with where to fetch them, but not downloaded
// (BuildKit's lazy refs). A build that hits a registry cache for every step, or never runs a command on its base
// image, needs none of those layers' bytes; they come in the first time something reads them (a RUN, `tsbuild
// run`, save, push). Records live in <root>/lazy/<hex>.json, written temp → rename; a downloaded blob wins over
// its record, which prune removes with the image.
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { RemoteBlobOpener, RemoteBlobSource } from '../oci/index.js';
import { digestHex, isDigest } from '../oci/index.js';
import { isGzipLayer, MediaType, type Descriptor, type Digest } from '../oci/index.js';
import { StoreError } from './errors.js';
import { fsyncDir, isNotFound, writeFileAtomic, writeLinkedBatch } from './fsutil.js';

export interface LazyRecord {
  /** The blob as the store will hold it. */
  descriptor: Descriptor;
  /** Where to fetch it, in the order to try. */
  sources: RemoteBlobSource[];
}

/** A lazy blob could not be fetched: names the blob and every source tried, and what to do. */
export class LazyBlobError extends StoreError {
  override name = 'LazyBlobError';
  constructor(
    readonly digest: Digest,
    readonly tried: string[],
    reason: string,
    cause?: unknown,
  ) {
    super(
      `blob ${digest} was recorded without being downloaded, and fetching it failed: ${reason}` +
        (tried.length > 0 ? ` (tried ${tried.join(', ')})` : '') +
        '; make the source reachable (with the same --insecure-registry/--registry-mirror options as the build) or pull/build the image again',
      { digest, ...(cause !== undefined ? { cause } : {}) },
    );
  }
}

export function describeSource(s: RemoteBlobSource): string {
  return s.kind === 'registry'
    ? `${s.endpoint}/v2/${s.repository}/blobs/${s.blob.digest}`
    : `${s.dir} (${s.blob.digest})`;
}

const sameSource = (a: RemoteBlobSource, b: RemoteBlobSource): boolean => JSON.stringify(a) === JSON.stringify(b);

export class LazyBlobs {
  readonly dir: string;
  private made: Promise<unknown> | undefined;

  constructor(root: string) {
    this.dir = join(root, 'lazy');
  }

  private file(digest: Digest): string {
    return join(this.dir, `${digestHex(digest)}.json`);
  }

  async get(digest: Digest): Promise<LazyRecord | undefined> {
    if (!isDigest(digest)) return undefined;
    try {
      // read without the thread pool: a few hundred bytes, asked for by every hasBlob that finds no blob
      const parsed = JSON.parse(readFileSync(this.file(digest), 'utf8')) as
        LazyRecord | { records: Record<string, LazyRecord> };
      // a record written by addMany: the file holds the whole batch, linked under each blob's name
      const rec = 'records' in parsed ? parsed.records[digest] : parsed;
      return rec && rec.descriptor?.digest === digest && Array.isArray(rec.sources) ? rec : undefined;
    } catch (e) {
      if (isNotFound(e) || e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  /** Adds a source for `descriptor` (a new source goes first: the most recent is the likeliest to answer). */
  async add(descriptor: Descriptor, source: RemoteBlobSource, opts: { durable?: boolean } = {}): Promise<void> {
    const old = await this.get(descriptor.digest);
    const sources = [source, ...(old?.sources ?? []).filter((s) => !sameSource(s, source))].slice(0, 4);
    const { mediaType, digest, size } = descriptor;
    await (this.made ??= mkdir(this.dir, { recursive: true }));
    await writeFileAtomic(
      this.file(digest),
      JSON.stringify({ descriptor: { mediaType, digest, size }, sources } satisfies LazyRecord),
      opts,
    );
  }

  /**
   * Records many blobs at once with one fsync instead of one each (a build whose every step hit a registry cache
   * records a layer per step): one file holds every record, fsynced, then hard-linked under each blob's name (a
   * directory entry, no new inode), and the directory is fsynced once. A blob that has a record already gets its
   * source added as `add` does.
   */
  async addMany(items: { descriptor: Descriptor; source: RemoteBlobSource }[]): Promise<void> {
    if (items.length === 0) return;
    await (this.made ??= mkdir(this.dir, { recursive: true }));
    const fresh: typeof items = [];
    for (const it of items) {
      if (existsSync(this.file(it.descriptor.digest))) await this.add(it.descriptor, it.source);
      else fresh.push(it);
    }
    if (fresh.length === 0) return;
    const records: Record<string, LazyRecord> = {};
    for (const {
      descriptor: { mediaType, digest, size },
      source,
    } of fresh)
      records[digest] = { descriptor: { mediaType, digest, size }, sources: [source] };
    const existing = new Set(
      await writeLinkedBatch(
        this.dir,
        JSON.stringify({ records }),
        fresh.map((f) => this.file(f.descriptor.digest)),
      ),
    );
    // recorded by another process meanwhile: this source is added to its record
    for (const f of fresh) if (existing.has(this.file(f.descriptor.digest))) await this.add(f.descriptor, f.source);
    await fsyncDir(this.dir);
  }

  async remove(digest: Digest): Promise<void> {
    await rm(this.file(digest), { force: true });
  }

  async list(): Promise<Digest[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}\.json$/.test(n)).map((n) => `sha256:${n.slice(0, 64)}` as Digest);
  }
}

/** True when `source` holds the gzip of an uncompressed layer `descriptor` (a registry build cache's blob). */
export function needsGunzip(descriptor: Descriptor, source: RemoteBlobSource): boolean {
  if (source.blob.digest === descriptor.digest) return false;
  const plain = descriptor.mediaType === MediaType.OciLayer || descriptor.mediaType === MediaType.DockerLayer;
  return plain && isGzipLayer(source.blob.mediaType);
}

/**
 * Runs `consume` on the lazy blob's bytes (openLazy); a transfer that fails midway (the registry went away) becomes
 * a LazyBlobError naming the blob and its sources. The store's own errors (a digest mismatch, a refused tar) pass.
 */
export async function withLazy<T>(
  rec: LazyRecord,
  opener: RemoteBlobOpener | undefined,
  consume: (src: Readable) => Promise<T>,
): Promise<T> {
  const src = await openLazy(rec, opener);
  try {
    return await consume(src);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new LazyBlobError(rec.descriptor.digest, rec.sources.map(describeSource), (e as Error).message, e);
  }
}

/**
 * Opens the bytes of a lazy blob as the store holds it, trying each source in turn (the caller verifies the digest
 * while writing). OCI layout sources are read directly; registry sources need `opener`.
 */
export async function openLazy(rec: LazyRecord, opener: RemoteBlobOpener | undefined): Promise<Readable> {
  const tried: string[] = [];
  let last: unknown;
  for (const source of rec.sources) {
    if (source.blob.digest !== rec.descriptor.digest && !needsGunzip(rec.descriptor, source)) continue;
    tried.push(describeSource(source));
    try {
      let src: Readable;
      if (source.kind === 'oci-layout') {
        const path = join(source.dir, 'blobs', 'sha256', digestHex(source.blob.digest));
        src = await new Promise<Readable>((resolve, reject) => {
          const s = createReadStream(path, { highWaterMark: 1 << 20 });
          s.once('open', () => resolve(s));
          s.once('error', reject);
        });
      } else {
        if (!opener) throw new Error('this command cannot reach registries');
        src = await opener.open(source);
      }
      if (!needsGunzip(rec.descriptor, source)) return src;
      // zlib loads only here: opening the store (every command) does not need it.
      const { createGunzip } = await import('node:zlib');
      const gunzip = createGunzip({ chunkSize: 256 << 10 });
      src.on('error', (e) => gunzip.destroy(e));
      gunzip.on('close', () => src.destroy());
      return src.pipe(gunzip);
    } catch (e) {
      last = e;
    }
  }
  throw new LazyBlobError(
    rec.descriptor.digest,
    tried,
    last ? (last as Error).message : 'no usable source is recorded',
    last,
  );
}
