// The cache beyond one registry ref: keys that do not depend on the machine (two stores, two context copies),
// type=local (an OCI layout directory), type=inline (records in the pushed image's config), what never enters an
// exported cache (secrets, cache mounts), and two exporters racing to one ref.
import { execFile } from 'node:child_process';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ImageIndex, ImageManifest } from '../../oci/types.js';
import {
  build,
  buildAsync,
  exportedDigests,
  manifestDigest,
  seededRegistry,
  steps,
  tempDirs,
  writeContext,
} from './helpers.js';

const run = promisify(execFile);
const tmp = tempDirs();
// A docker-registry of this file's own, seeded with busybox (registry.base), stopped with the temp dirs at the end.
const registry = seededRegistry(tmp);

async function layoutRecords(dir: string, tag = 'buildcache'): Promise<Record<string, unknown>> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
  const desc = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const blob = (d: string): Promise<Buffer> => readFile(join(dir, 'blobs/sha256', d.slice(7)));
  const manifest = JSON.parse((await blob(desc.digest)).toString()) as ImageManifest;
  return (JSON.parse((await blob(manifest.config.digest)).toString()) as { records: Record<string, unknown> }).records;
}

const program = (): string =>
  [
    `FROM ${registry.base}`,
    'WORKDIR /src',
    'COPY . .',
    'RUN ls -l /src > /listing && echo ran',
    'ARG LEVEL=3',
    'RUN echo "level $LEVEL" > /level',
    '',
  ].join('\n');

describe('cache keys', () => {
  it('are the same on two stores in different directories for two copies of a context', async () => {
    const ctx1 = await writeContext(await tmp.make('tsbuild-ctx-one-'), {
      Buildfile: program(),
      'src/main.c': 'int main(){}\n',
      'src/lib/util.c': 'int u;\n',
      README: 'hi\n',
    });
    // The copy lives elsewhere, made later: other inode numbers, other mtimes, other absolute paths.
    await new Promise((r) => setTimeout(r, 1100));
    const ctx2 = join(await tmp.make('tsbuild-ctx-two-other-place-'), 'nested', 'ctx');
    await cp(ctx1, ctx2, { recursive: true, preserveTimestamps: false });
    const [out1, out2] = [await tmp.make(), await tmp.make()];
    build(await tmp.make('tsbuild-store-a-'), registry.host, ['--cache-to', `type=local,dest=${out1},mode=max`, ctx1]);
    build(await tmp.make('tsbuild-store-b-elsewhere-'), registry.host, [
      '--cache-to',
      `type=local,dest=${out2},mode=max`,
      ctx2,
    ]);
    const [k1, k2] = [Object.keys(await layoutRecords(out1)).sort(), Object.keys(await layoutRecords(out2)).sort()];
    expect(k1).toHaveLength(5);
    expect(k2).toEqual(k1);

    // And so a third machine reading the first one's type=local cache takes every step from it.
    const c = build(await tmp.make(), registry.host, ['--cache-from', `type=local,src=${out1}`, ctx2]);
    expect(steps(c).every((s) => s.startsWith('CACHED'))).toBe(true);
    expect(steps(c)).toHaveLength(5);
  });
});

describe('what is exported', () => {
  it('never holds a secret or a cache mount, only what RUN wrote into the image', async () => {
    const secret = 's3cr3t-VALUE-7f1c';
    const buildfile = [
      `FROM ${registry.base}`,
      'RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secret-length && echo marker-LAYER > /marker',
      'RUN --mount=type=cache,target=/cache echo cachedata-9d2e > /cache/f && echo done > /done',
      '',
    ].join('\n');
    const ctx = await writeContext(await tmp.make(), { Buildfile: buildfile });
    const secretFile = join(await tmp.make(), 'tok');
    await writeFile(secretFile, secret);
    const root = await tmp.make();
    const out = await tmp.make();
    build(root, registry.host, [
      '--secret',
      `id=tok,src=${secretFile}`,
      '--cache-to',
      `type=local,dest=${out},mode=max`,
      ctx,
    ]);

    // The RUN did use both mounts: the cache mount's file is in the store's cache-mount area.
    const grep = await run('grep', ['-rl', 'cachedata-9d2e', root]);
    expect(grep.stdout.trim()).not.toBe('');

    const blobs = join(out, 'blobs/sha256');
    let sawMarker = false;
    for (const f of await readdir(blobs)) {
      let bytes = await readFile(join(blobs, f));
      if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
      expect(bytes.includes(secret), `blob ${f} holds the secret`).toBe(false);
      expect(bytes.includes('cachedata-9d2e'), `blob ${f} holds the cache mount's file`).toBe(false);
      sawMarker ||= bytes.includes('marker-LAYER');
    }
    expect(sawMarker).toBe(true);
  });
});

describe('type=inline', () => {
  it('puts the records in the pushed image config, and --cache-from that image takes every step from it', async () => {
    const ctx = await writeContext(await tmp.make(), { Buildfile: program(), 'src/a.c': 'a\n' });
    const image = `${registry.host}/app/inline:1`;
    const a = build(await tmp.make(), registry.host, ['--cache-to', 'type=inline', '-t', image, '--push', ctx]);
    const { stdout } = await run(
      'skopeo',
      ['inspect', '--raw', '--config', '--tls-verify=false', `docker://${image}`],
      { encoding: 'utf8' },
    );
    expect(
      Object.keys((JSON.parse(stdout) as Record<string, { records: object }>)['tsbuild.cache.v1']!.records),
    ).toHaveLength(5);

    const b = build(await tmp.make(), registry.host, ['--cache-from', image, '--cache-to', 'type=inline', ctx]);
    expect(steps(b).every((s) => s.startsWith('CACHED'))).toBe(true);
    expect(manifestDigest(b)).toBe(manifestDigest(a));
  });
});

describe('concurrency', () => {
  it('two builds exporting to one ref at once leave one complete cache (last writer wins)', async () => {
    const ref = `${registry.host}/cache/race:buildcache`;
    const ctxs = await Promise.all(
      ['one', 'two'].map(async (n) =>
        writeContext(await tmp.make(), {
          Buildfile: program(),
          'src/which': `${n}\n`,
          'src/big': `${n}`.repeat(200_000),
        }),
      ),
    );
    const roots = [await tmp.make(), await tmp.make()];
    const [r1, r2] = await Promise.all(
      ctxs.map((c, i) => buildAsync(roots[i]!, registry.host, ['--cache-to', `type=registry,ref=${ref},mode=max`, c])),
    );
    const d1 = exportedDigests(r1!)[0]!;
    const d2 = exportedDigests(r2!)[0]!;
    expect(d1).not.toBe(d2);
    const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], {
      encoding: 'utf8',
    });
    const { digestOf } = await import('../../oci/digest.js');
    const winner = digestOf(stdout.trimEnd());
    expect([d1, d2]).toContain(winner);

    // The cache the ref points at is whole: an empty store takes every step of the winner's build from it.
    const ctx = ctxs[winner === d1 ? 0 : 1]!;
    const c = build(await tmp.make(), registry.host, ['--cache-from', `type=registry,ref=${ref}`, '-t', 'race:1', ctx]);
    expect(steps(c).every((s) => s.startsWith('CACHED'))).toBe(true);
  });
});
