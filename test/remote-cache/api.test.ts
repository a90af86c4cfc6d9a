// exportCache / importCache called directly, on stores filled through the store API and a real registry: records
// and layers round-trip, layers arrive only when ensureLayer asks (gunzipped into the store, unpacked), and many
// exporters racing to one ref always leave a complete cache.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCache, importCache, parseCacheSpec, type CacheEntry } from '../../builder/remote-cache/index.js';
import { digestOf } from '../../oci/digest.js';
import type { Store } from '../../store/api.js';
import { openStore } from '../../store/index.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { tempDirs } from './helpers.js';

let registry: RegistryFixture;
const tmp = tempDirs();
const stores: Store[] = [];

beforeAll(async () => {
  registry = await startRegistry();
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await registry?.stop();
  await tmp.cleanup();
});

async function store(): Promise<Store> {
  const s = await openStore(await tmp.make('tsbuild-rcache-store-'));
  stores.push(s);
  return s;
}

/** A store with one committed layer per file map, each recorded under `key-N` (plus one metadata-only record). */
async function populated(
  tag: string,
  files: Record<string, string>[],
): Promise<{ store: Store; entries: CacheEntry[] }> {
  const s = await store();
  const entries: CacheEntry[] = [];
  for (const [i, f] of files.entries()) {
    const upper = await tmp.make('tsbuild-rcache-upper-');
    for (const [name, content] of Object.entries(f)) {
      await mkdir(join(upper, name, '..'), { recursive: true });
      await writeFile(join(upper, name), content);
    }
    const c = await s.layers.commit(upper, { sourceDateEpoch: 1_700_000_000 });
    const record = {
      layer: { diffID: c.diffID, descriptor: c.descriptor },
      data: { created: '2023-11-14T22:13:20Z', step: i },
      createdAt: '2023-11-14T22:13:20Z',
    };
    await s.cache.put(`${tag}-key-${i}`, record);
    entries.push({ key: `${tag}-key-${i}`, record, finalImage: i % 2 === 0 });
  }
  entries.push({
    key: `${tag}-meta`,
    record: { layer: null, data: { env: 'X=1' }, createdAt: '2023-11-14T22:13:20Z' },
    finalImage: true,
  });
  return { store: s, entries };
}

const opts = (): { insecure: string[] } => ({ insecure: [registry.host] });

describe('exportCache / importCache', () => {
  it('round-trip records, and fetch a layer only when ensureLayer asks for it', async () => {
    const { store: a, entries } = await populated('rt', [
      { 'etc/one': 'first layer\n' },
      { 'srv/two': 'second layer\n'.repeat(1000) },
    ]);
    const spec = parseCacheSpec(`type=registry,ref=${registry.host}/api/rt:buildcache,mode=max`);
    const desc = await exportCache(spec, entries, a, opts());
    expect(desc.artifactType).toBe('application/vnd.tsbuild.cache.config.v1+json');

    const b = await store();
    const remote = await importCache([spec], b, opts());
    expect(remote.sources).toEqual([{ spec: `registry ${registry.host}/api/rt:buildcache`, records: 3 }]);
    expect(await remote.lookup('nope')).toBeUndefined();
    expect(await remote.lookup('rt-meta')).toMatchObject({ layer: null, data: { env: 'X=1' } });
    const rec = (await remote.lookup('rt-key-1'))!;
    expect(rec.layer!.descriptor).toEqual(entries[1]!.record.layer!.descriptor);
    expect(rec.layer!.blob!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(rec.data).toEqual({ created: '2023-11-14T22:13:20Z', step: 1 });

    // Nothing was downloaded by the import or the lookups.
    for (const e of entries)
      if (e.record.layer) expect(await b.blobs.has(e.record.layer.descriptor.digest)).toBe(false);
    await remote.ensureLayer(rec);
    expect(await b.blobs.has(rec.layer!.descriptor.digest)).toBe(true);
    expect(await b.blobs.has(entries[0]!.record.layer!.descriptor.digest)).toBe(false);
    const dir = (await b.layers.lowerdir(rec.layer!.diffID))!;
    expect(await readFile(join(dir, 'srv/two'), 'utf8')).toBe('second layer\n'.repeat(1000));
    remote.close();
  });

  it('mode=min exports only the final image entries', async () => {
    const { store: a, entries } = await populated('min', [{ a: '1' }, { b: '2' }, { c: '3' }]);
    const spec = parseCacheSpec(`type=registry,ref=${registry.host}/api/min:buildcache`);
    await exportCache(spec, entries, a, opts());
    const remote = await importCache([spec], await store(), opts());
    expect(await remote.lookup('min-key-0')).toBeDefined();
    expect(await remote.lookup('min-key-1')).toBeUndefined();
    expect(await remote.lookup('min-key-2')).toBeDefined();
    remote.close();
  });

  it('the first --cache-from that has a key wins; an unreachable one is a warning', async () => {
    const one = await populated('same', [{ f: 'from one' }]);
    const two = await populated('same', [{ f: 'from two' }]);
    const s1 = parseCacheSpec(`type=registry,ref=${registry.host}/api/first:c,mode=max`);
    const s2 = parseCacheSpec(`type=registry,ref=${registry.host}/api/second:c,mode=max`);
    await exportCache(s1, one.entries, one.store, opts());
    await exportCache(s2, two.entries, two.store, opts());
    const warnings: string[] = [];
    const dead = parseCacheSpec('type=registry,ref=127.0.0.1:9/api/dead:c');
    const remote = await importCache(
      [dead, s2, s1],
      await store(),
      { ...opts(), insecure: [registry.host, '127.0.0.1:9'], retries: 0 },
      { onWarn: (m) => warnings.push(m) },
    );
    expect((await remote.lookup('same-key-0'))!.layer!.diffID).toBe(two.entries[0]!.record.layer!.diffID);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^--cache-from registry 127\.0\.0\.1:9\/api\/dead:c: ignored: /);
    remote.close();
  });

  it('exporters racing to one ref always leave a complete cache', async () => {
    const spec = parseCacheSpec(`type=registry,ref=${registry.host}/api/race:buildcache,mode=max`);
    const sides = await Promise.all(
      ['left', 'right'].map((t) => populated(t, [{ [`${t}/a`]: `${t} a\n` }, { [`${t}/b`]: `${t} b\n`.repeat(5000) }])),
    );
    for (let round = 0; round < 4; round++) {
      const descs = await Promise.all(sides.map((s) => exportCache(spec, s.entries, s.store, opts())));
      const b = await store();
      const remote = await importCache([spec], b, opts());
      const winner = (await remote.lookup('left-key-0')) ? 0 : 1;
      expect(remote.sources[0]!.records).toBe(3);
      for (const e of sides[winner]!.entries) {
        const rec = (await remote.lookup(e.key))!;
        expect(rec).toBeDefined();
        await remote.ensureLayer(rec);
        if (rec.layer) expect(await b.blobs.has(rec.layer.descriptor.digest)).toBe(true);
      }
      // The tag points at the manifest one of the exporters wrote whole: the winner's.
      const res = await fetch(`${registry.url}/v2/api/race/manifests/buildcache`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(digestOf(Buffer.from(await res.arrayBuffer()))).toBe(descs[winner]!.digest);
      remote.close();
    }
  });
});
