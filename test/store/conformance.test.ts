// One conformance check for any Store (as go-containerregistry's pkg/v1/validate is for any Image): the same
// round trips against the local store and against the store a build with --cache-from/--cache-to sees (the remote
// cache view, with and without an imported cache). A new Store, or a new wrapper, joins the `subjects` table.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { exportCache, importCache, parseCacheSpec, RemoteCacheStore } from '../../builder/remote-cache/index.js';
import { digestOf } from '../../oci/digest.js';
import type { Digest } from '../../oci/index.js';
import { BlobNotFoundError, openStore, putJSON, type Store } from '../../store/index.js';
import { cleanupTemps, tempDir } from './helpers.js';

const opened: Store[] = [];
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await cleanupTemps();
});

async function local(): Promise<Store> {
  const s = await openStore(join(await tempDir('tsbuild-conformance-'), 'store'));
  opened.push(s);
  return s;
}

/** A local cache directory holding one exported record, imported as a build's --cache-from would. */
async function importedCache(into: Store): Promise<RemoteCacheStore> {
  const from = await local();
  const upper = await tempDir('tsbuild-conformance-upper-');
  await writeFile(join(upper, 'cached'), 'from the remote cache\n');
  const c = await from.layers.commit(upper);
  const record = { layer: { diffID: c.diffID, descriptor: c.descriptor }, data: { step: 0 }, createdAt: 'then' };
  const dir = join(await tempDir('tsbuild-conformance-cache-'), 'cache');
  await exportCache(
    parseCacheSpec(`type=local,dest=${dir}`),
    [{ key: 'remote-key', record, finalImage: true }],
    from,
    {},
  );
  const remote = await importCache([parseCacheSpec(`type=local,src=${dir}`)], into, {});
  return new RemoteCacheStore(into, remote);
}

const subjects: [string, () => Promise<Store>][] = [
  ['the local store', local],
  ['the remote cache view (--cache-to only)', async () => new RemoteCacheStore(await local(), undefined)],
  ['the remote cache view (with an imported cache)', async () => importedCache(await local())],
];

const missing = `sha256:${'0f'.repeat(32)}` as Digest;

async function text(s: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe.each(subjects)('Store conformance: %s', (_name, make) => {
  it('blobs: put, has, size, open and read round trip; a wrong digest keeps nothing', async () => {
    const store = await make();
    const bytes = Buffer.from('a blob of known digest\n');
    const digest = digestOf(bytes) as Digest;
    expect(await store.blobs.put(Readable.from([bytes]), { digest, size: bytes.length })).toEqual({
      digest,
      size: bytes.length,
    });
    expect(await store.blobs.has(digest)).toBe(true);
    expect(await store.blobs.size(digest)).toBe(bytes.length);
    expect(await text(await store.blobs.open(digest))).toBe(bytes.toString());
    expect((await store.blobs.read(digest)).equals(bytes)).toBe(true);
    expect(existsSync(store.blobs.path(digest))).toBe(true);

    const unknown = Buffer.from('a blob whose digest the caller does not know\n');
    expect(await store.blobs.put(Readable.from([unknown]))).toEqual({
      digest: digestOf(unknown),
      size: unknown.length,
    });
    const desc = await store.blobs.putBytes(
      Buffer.from('{}'),
      'application/json',
      digestOf(Buffer.from('{}')) as Digest,
    );
    expect(desc).toEqual({ mediaType: 'application/json', digest: digestOf(Buffer.from('{}')), size: 2 });

    const lie = Buffer.from('not what the digest says');
    await expect(store.blobs.put(Readable.from([lie]), { digest: missing })).rejects.toThrow();
    expect(await store.blobs.has(missing)).toBe(false);
  });

  it('blobs: a missing blob is absent, and reading it names its digest', async () => {
    const store = await make();
    expect(await store.blobs.has(missing)).toBe(false);
    expect(await store.blobs.lazySource(missing)).toBeUndefined();
    await store.blobs.fetch(missing); // a no-op for an unknown blob
    await expect(store.blobs.open(missing)).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.blobs.read(missing)).rejects.toThrow(missing.slice(7));
    await expect(store.blobs.size(missing)).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('layers: a commit unpacks to a lowerdir; its gzip unpacks to the same diffID', async () => {
    const store = await make();
    const dirs = await store.containerDirs();
    await mkdir(join(dirs.upperdir, 'etc'));
    await writeFile(join(dirs.upperdir, 'etc/greeting'), 'hello\n');
    const c = await store.layers.commit(dirs.upperdir, { sourceDateEpoch: 1_700_000_000 });
    await dirs.release();
    expect(existsSync(dirs.upperdir)).toBe(false);
    expect(c.empty).toBe(false);
    expect(c.descriptor.digest).toBe(c.diffID);
    expect(await store.blobs.has(c.diffID)).toBe(true);
    const lower = (await store.layers.lowerdir(c.diffID))!;
    expect(await readFile(join(lower, 'etc/greeting'), 'utf8')).toBe('hello\n');
    expect(await store.layers.lowerdir(missing)).toBeUndefined();

    const gz = await store.layers.compressed(c.descriptor);
    expect(gz.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(await store.blobs.size(gz.digest)).toBe(gz.size);
    expect(await store.layers.diffIDOf(gz)).toBe(c.diffID);
    const unpacked = await store.layers.unpack(gz, c.diffID);
    expect(unpacked.diffID).toBe(c.diffID);
    expect(await readFile(join(unpacked.dir, 'etc/greeting'), 'utf8')).toBe('hello\n');

    const other = await store.layers.unpackStream(gz, await store.blobs.open(gz.digest));
    expect(other.diffID).toBe(c.diffID);
  });

  it('images: tag, resolve, list and untag a manifest; its layers as lowerdirs', async () => {
    const store = await make();
    const dirs = await store.containerDirs();
    await writeFile(join(dirs.upperdir, 'file'), 'in the image\n');
    const c = await store.layers.commit(dirs.upperdir);
    await dirs.release();
    const config = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [c.diffID] } };
    const cfg = await putJSON(store.blobs, config, 'application/vnd.oci.image.config.v1+json');
    const manifest = { schemaVersion: 2, config: cfg, layers: [c.descriptor] };
    const m = await putJSON(store.blobs, manifest, 'application/vnd.oci.image.manifest.v1+json');

    await store.images.tag('example.com/conformance/app:1', m);
    const rec = (await store.images.resolve('example.com/conformance/app:1'))!;
    expect(rec.manifestDigest).toBe(m.digest);
    expect(rec.configDigest).toBe(cfg.digest);
    expect(rec.config.rootfs.diff_ids).toEqual([c.diffID]);
    expect((await store.images.resolve(m.digest))?.manifestDigest).toBe(m.digest);
    expect((await store.images.list()).map((t) => [t.name, t.target.digest])).toEqual([
      ['example.com/conformance/app:1', m.digest],
    ]);
    const [lower] = await store.layers.lowerdirsFor(rec);
    expect(await readFile(join(lower!, 'file'), 'utf8')).toBe('in the image\n');

    expect(await store.images.untag('example.com/conformance/app:1')).toBe(true);
    expect(await store.images.untag('example.com/conformance/app:1')).toBe(false);
    expect(await store.images.resolve('example.com/conformance/app:1')).toBeUndefined();
  });

  it('cache records: put, putMany and get round trip; an unknown key is a miss', async () => {
    const store = await make();
    const meta = { layer: null, data: { env: ['A=1'] }, createdAt: '2023-11-14T22:13:20Z' };
    await store.cache.put('conformance-one', meta);
    expect(await store.cache.get('conformance-one')).toEqual(meta);
    await store.cache.putMany([
      ['conformance-two', { ...meta, createdAt: 'two' }],
      ['conformance-one', { ...meta, createdAt: 'ignored' }], // a key with a record keeps it
    ]);
    expect((await store.cache.get('conformance-two'))?.createdAt).toBe('two');
    expect((await store.cache.get('conformance-one'))?.createdAt).toBe(meta.createdAt);
    expect(await store.cache.get('conformance-unknown')).toBeUndefined();
  });

  it('leases: a lease is released by the function it returns', async () => {
    const store = await make();
    const release = await store.lease([missing]);
    await release();
  });
});
