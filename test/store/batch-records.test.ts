// Records written many at a time (a build whose every step hit a registry cache): lazy blob records with one fsync,
// cache records with one new file; each hard-linked under its own name, read back one by one, pruned one by one.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../oci/digest.js';
import { MediaType, type Descriptor } from '../../oci/types.js';
import type { RemoteBlobSource } from '../../oci/blobs.js';
import { openStore } from '../../store/index.js';
import { pruneStore } from '../../store/ops/gc.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const layer = (i: number): Descriptor => {
  const bytes = Buffer.from(`layer ${i}`);
  return { mediaType: MediaType.OciLayer, digest: digestOf(bytes), size: bytes.length };
};
const source = (d: Descriptor, repo = 'cache/repo'): RemoteBlobSource => ({
  kind: 'registry',
  registry: 'r.example',
  repository: repo,
  endpoint: 'http://r.example',
  blob: { ...d },
});

describe('batch records', () => {
  it('lazy records: one file linked under each blob name, read back singly; a blob with a record gets the source added', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tsbuild-batch-'));
    dirs.push(root);
    const store = await openStore(root);
    const [a, b, c] = [layer(1), layer(2), layer(3)];
    await store.blobs.addLazy([{ descriptor: c, source: source(c, 'older/repo') }]);
    await store.blobs.addLazy([a, b, c].map((d) => ({ descriptor: d, source: source(d) })));
    expect((await store.blobs.lazySource(a.digest))?.descriptor).toEqual(a);
    expect((await store.blobs.lazySource(b.digest))?.sources.map((s) => s.kind === 'registry' && s.repository)).toEqual(
      ['cache/repo'],
    );
    // c had a record of its own: it keeps it, with the new source first
    expect((await store.blobs.lazySource(c.digest))?.sources.map((s) => s.kind === 'registry' && s.repository)).toEqual(
      ['cache/repo', 'older/repo'],
    );
    expect(await store.blobs.has(a.digest)).toBe(true);
    const lazyDir = join(root, 'lazy');
    const names = readdirSync(lazyDir);
    expect(names.filter((n) => !/^[a-f0-9]{64}\.json$/.test(n))).toEqual([]); // the batch's own name is gone
    expect(statSync(join(lazyDir, `${a.digest.slice(7)}.json`)).ino).toBe(
      statSync(join(lazyDir, `${b.digest.slice(7)}.json`)).ino,
    );
    await store.close();
    // nothing references them: prune removes each name, and a batch a dead writer left behind
    writeFileSync(join(lazyDir, 'batch-999999999-0123456789ab'), '{"records":{}}');
    const again = await openStore(root);
    const report = await pruneStore(again);
    expect(report.lazy).toBe(3);
    expect(readdirSync(lazyDir)).toEqual([]);
    await again.close();
  });

  it('cache records: many keys in one new file, each read back by its key, unknown keys miss, prune sorts them one by one', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tsbuild-batch-'));
    dirs.push(root);
    const store = await openStore(root);
    const kept = layer(7);
    await store.blobs.addLazy([{ descriptor: kept, source: source(kept) }]);
    const gone = layer(8); // no blob and no record: its cache record is stale
    await store.cache.put('k-old', { layer: null, data: { created: 'old' }, createdAt: 'old' });
    await store.cache.putMany([
      ['k1', { layer: { diffID: kept.digest, descriptor: kept }, data: { created: 'c1' }, createdAt: 'c1' }],
      ['k2', { layer: { diffID: gone.digest, descriptor: gone }, data: { created: 'c2' }, createdAt: 'c2' }],
      ['k3', { layer: null, data: { created: 'c3' }, createdAt: 'c3' }],
      ['k-old', { layer: null, data: { created: 'new' }, createdAt: 'new' }],
    ]);
    expect((await store.cache.get('k1'))?.layer?.descriptor).toEqual(kept);
    expect((await store.cache.get('k3'))?.createdAt).toBe('c3');
    expect((await store.cache.get('k-old'))?.createdAt).toBe('old'); // a key with a record keeps it
    expect(await store.cache.get('k4')).toBeUndefined();
    await store.close();
    // a fresh process (its own listing of the cache dir) reads the same
    const again = await openStore(root);
    expect((await again.cache.get('k2'))?.createdAt).toBe('c2');
    const report = await pruneStore(again);
    // k2's layer is gone, and k1's (a lazy blob no image names) goes with this prune; k3 and k-old stay
    expect(report.cache).toBe(2);
    expect(await again.cache.get('k1')).toBeUndefined();
    expect(await again.cache.get('k2')).toBeUndefined();
    expect((await again.cache.get('k3'))?.createdAt).toBe('c3');
    expect(existsSync(join(root, 'cache'))).toBe(true);
    await again.close();
  });
});
