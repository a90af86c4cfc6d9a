// Pure unit tests: cache spec parsing and the cache artifact encoding.
import { describe, expect, it } from 'vitest';
import { parseCacheSpec, CacheSpecError } from '../../builder/remote-cache/spec.js';
import {
  CACHE_CONFIG_MEDIA_TYPE,
  canonicalJSON,
  encodeCache,
  parseCacheConfig,
  CacheFormatError,
} from '../../builder/remote-cache/format.js';
import { selectEntries } from '../../builder/remote-cache/export.js';
import { digestOf } from '../../oci/digest.js';
import { MediaType, type Digest } from '../../oci/types.js';

const d = (s: string): Digest => digestOf(s);

describe('parseCacheSpec', () => {
  it('parses type=registry with its mode, defaulting to min', () => {
    const s = parseCacheSpec('type=registry,ref=127.0.0.1:5000/app/cache:buildcache,mode=max');
    expect(s).toMatchObject({
      type: 'registry',
      mode: 'max',
      ignoreError: false,
      ref: { registry: '127.0.0.1:5000', repository: 'app/cache', tag: 'buildcache' },
    });
    expect(parseCacheSpec('type=registry,ref=localhost:5000/app:c')).toMatchObject({ mode: 'min' });
  });

  it('takes a bare image reference as type=registry (docker build --cache-from IMAGE)', () => {
    expect(parseCacheSpec('localhost:5000/app:cache')).toMatchObject({
      type: 'registry',
      ref: { registry: 'localhost:5000', repository: 'app', tag: 'cache' },
    });
  });

  it('parses type=local with dest or src and a default tag', () => {
    expect(parseCacheSpec('type=local,dest=/tmp/c')).toMatchObject({
      type: 'local',
      dest: '/tmp/c',
      tag: 'buildcache',
      mode: 'min',
    });
    expect(parseCacheSpec('type=local,src=/tmp/c,tag=v2')).toMatchObject({ type: 'local', src: '/tmp/c', tag: 'v2' });
  });

  it('parses type=inline and ignore-error', () => {
    expect(parseCacheSpec('type=inline')).toMatchObject({ type: 'inline', mode: 'min' });
    expect(parseCacheSpec('type=registry,ref=h.io/a:b,ignore-error=true')).toMatchObject({ ignoreError: true });
  });

  it.each([
    ['', /empty/],
    ['ref=h.io/a:b', /type= is required/],
    ['type=s3,bucket=x', /type=s3 is not supported/],
    ['type=registry', /needs ref=/],
    ['type=registry,ref=h.io/A:b', /lowercase/],
    ['type=registry,ref=h.io/a:b,mode=all', /mode=all: expected min or max/],
    ['type=registry,ref=h.io/a:b,dest=/x', /dest= does not apply to type=registry/],
    ['type=local', /needs dest=DIR/],
    ['type=local,dest=/x,tag=a b', /not a valid tag/],
    ['type=inline,mode=max', /mode= does not apply to type=inline/],
    ['type=registry,ref=h.io/a:b,ref=h.io/c:d', /ref= given twice/],
    ['type=registry,ref=h.io/a:b,ignore-error=maybe', /expected true or false/],
    ['type=registry,novalue', /"novalue" is not KEY=VALUE/],
  ])('rejects %j with a clear message', (input, re) => {
    let err: unknown;
    try {
      parseCacheSpec(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CacheSpecError);
    expect((err as Error).message).toMatch(re);
  });
});

describe('cache artifact encoding', () => {
  const layerA = {
    diffID: d('a'),
    descriptor: { mediaType: MediaType.OciLayer, digest: d('a'), size: 10 },
    blob: { mediaType: MediaType.OciLayerGzip, digest: d('a.gz'), size: 5 },
  };
  const layerB = {
    diffID: d('b'),
    descriptor: { mediaType: MediaType.OciLayer, digest: d('b'), size: 20 },
    blob: { mediaType: MediaType.OciLayerGzip, digest: d('b.gz'), size: 7 },
  };

  it('is an OCI image manifest with the cache artifactType whose layers list each blob once', () => {
    const enc = encodeCache({
      k1: { layer: layerA, data: { created: 't' }, createdAt: 't' },
      k2: { layer: layerB, data: null, createdAt: 't' },
      k3: { layer: layerA, data: null, createdAt: 't' },
      k4: { layer: null, data: null, createdAt: 't' },
    });
    const m = JSON.parse(enc.manifest.bytes.toString());
    expect(m).toMatchObject({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: CACHE_CONFIG_MEDIA_TYPE,
      config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: digestOf(enc.config.bytes) },
    });
    expect(m.layers.map((l: { digest: string }) => l.digest).sort()).toEqual([d('a.gz'), d('b.gz')].sort());
    expect(enc.manifest.descriptor.digest).toBe(digestOf(enc.manifest.bytes));
    expect(Object.keys(parseCacheConfig(enc.config.bytes, 'test'))).toEqual(['k1', 'k2', 'k3', 'k4']);
  });

  it('gives the same bytes for the same records in any insertion order', () => {
    const a = encodeCache({
      x: { layer: layerA, data: { b: 1, a: 2 }, createdAt: 't' },
      y: { layer: null, data: null, createdAt: 't' },
    });
    const b = encodeCache({
      y: { layer: null, data: null, createdAt: 't' },
      x: { layer: layerA, data: { a: 2, b: 1 }, createdAt: 't' },
    });
    expect(a.manifest.descriptor.digest).toBe(b.manifest.descriptor.digest);
    expect(canonicalJSON({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });

  it('refuses a config that is not a tsbuild cache', () => {
    expect(() => parseCacheConfig(Buffer.from('{"version":2,"records":{}}'), 'src')).toThrow(CacheFormatError);
    expect(() => parseCacheConfig(Buffer.from('nope'), 'src')).toThrow(/not JSON/);
    expect(() =>
      parseCacheConfig(Buffer.from('{"version":1,"records":{"k":{"layer":{"diffID":"x"},"createdAt":"t"}}}'), 'src'),
    ).toThrow(/malformed layer/);
  });

  it('mode=min keeps only the final image entries, mode=max all', () => {
    const rec = { layer: null, data: null, createdAt: 't' };
    const entries = [
      { key: 'a', record: rec, finalImage: true },
      { key: 'b', record: rec, finalImage: false },
    ];
    expect(selectEntries(entries, 'min').map((e) => e.key)).toEqual(['a']);
    expect(selectEntries(entries, 'max').map((e) => e.key)).toEqual(['a', 'b']);
  });
});
