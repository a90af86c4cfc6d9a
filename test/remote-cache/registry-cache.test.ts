// The registry cache end to end, with the real CLI and a real docker-registry: a build on store A exports its cache
// (--cache-to type=registry); builds on empty stores import it (--cache-from) and take steps from it without
// starting containers; the artifact is a valid OCI artifact that skopeo reads.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CACHE_CONFIG_MEDIA_TYPE } from '../../builder/remote-cache/format.js';
import { MediaType } from '../../oci/types.js';
import { startRegistry } from '../fixtures/registry.js';
import {
  BIN,
  build,
  logs,
  manifestDigest,
  seededRegistry,
  stageLayers,
  steps,
  tempDirs,
  writeContext,
} from './helpers.js';

const run = promisify(execFile);
const tmp = tempDirs();
// A docker-registry of this file's own, seeded with busybox (registry.base), stopped with the temp dirs at the end.
const registry = seededRegistry(tmp);

const startedContainers = (r: ReturnType<typeof build>): number =>
  r.events.filter((e) => e.type === 'step-output').length;

function singleStage(): string {
  return [
    `FROM ${registry.base}`,
    'COPY a.txt /a.txt',
    'RUN cat /a.txt > /copy-a && echo ran-a',
    'COPY b.txt /b.txt',
    'RUN cat /b.txt > /copy-b && echo ran-b',
    'ENV MODE=test',
    'CMD ["cat", "/copy-a"]',
    '',
  ].join('\n');
}

describe('type=registry', () => {
  let ctxA: string;
  const cacheRef = (): string => `${registry.host}/cache/app:buildcache`;

  it('an empty store with --cache-from takes every step from the cache, starts no container, and makes the same image', async () => {
    ctxA = await writeContext(await tmp.make(), { Buildfile: singleStage(), 'a.txt': 'alpha\n', 'b.txt': 'beta\n' });
    const a = build(await tmp.make(), registry.host, ['--cache-to', `type=registry,ref=${cacheRef()}`, ctxA]);
    expect(steps(a).every((s) => s.startsWith('RAN'))).toBe(true);
    expect(startedContainers(a)).toBeGreaterThan(0);
    expect(logs(a).some((l) => l.startsWith('info: exported cache to registry'))).toBe(true);

    const rootB = await tmp.make();
    const b = build(rootB, registry.host, ['--cache-from', `type=registry,ref=${cacheRef()}`, ctxA]);
    expect(steps(b)).toEqual([
      'CACHED stage-0: COPY a.txt /a.txt',
      'CACHED stage-0: RUN cat /a.txt > /copy-a && echo ran-a',
      'CACHED stage-0: COPY b.txt /b.txt',
      'CACHED stage-0: RUN cat /b.txt > /copy-b && echo ran-b',
      'CACHED stage-0: ENV MODE=test',
      'CACHED stage-0: CMD ["cat", "/copy-a"]',
    ]);
    expect(b.events.filter((e) => e.type === 'cache-miss')).toEqual([]);
    expect(startedContainers(b)).toBe(0);
    expect(manifestDigest(b)).toBe(manifestDigest(a));

    // The image built in store B (by digest: no -t) runs: its layers, recorded lazily, are fetched when it starts.
    const { stdout } = await run(BIN, ['--root', rootB, 'run', manifestDigest(b)!], { encoding: 'utf8' });
    expect(stdout).toBe('alpha\n');
  });

  it('after a change to one file only the steps from the COPY that reads it run', async () => {
    const ctx = await tmp.make();
    await cp(ctxA, ctx, { recursive: true });
    await writeFile(join(ctx, 'b.txt'), 'beta, changed\n');
    const c = build(await tmp.make(), registry.host, ['--cache-from', `type=registry,ref=${cacheRef()}`, ctx]);
    expect(steps(c)).toEqual([
      'CACHED stage-0: COPY a.txt /a.txt',
      'CACHED stage-0: RUN cat /a.txt > /copy-a && echo ran-a',
      'RAN stage-0: COPY b.txt /b.txt',
      'RAN stage-0: RUN cat /b.txt > /copy-b && echo ran-b',
      'RAN stage-0: ENV MODE=test',
      'RAN stage-0: CMD ["cat", "/copy-a"]',
    ]);
    // The RUN after the change needed the filesystem: the cached layers below it were fetched and unpacked.
    expect(c.events.some((e) => e.type === 'step-output' && e.line === 'ran-b')).toBe(true);
    expect(c.events.some((e) => e.type === 'step-output' && e.line === 'ran-a')).toBe(false);
  });

  it('skopeo inspect --raw reads the exported cache as an OCI artifact', async () => {
    const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${cacheRef()}`], {
      encoding: 'utf8',
    });
    const m = JSON.parse(stdout) as {
      mediaType: string;
      artifactType: string;
      config: { mediaType: string };
      layers: { mediaType: string }[];
    };
    expect(m.mediaType).toBe(MediaType.OciManifest);
    expect(m.artifactType).toBe(CACHE_CONFIG_MEDIA_TYPE);
    expect(m.config.mediaType).toBe(CACHE_CONFIG_MEDIA_TYPE);
    // mode=min of a single-stage build: the four layers of the final image's steps, gzipped.
    expect(m.layers.map((l) => l.mediaType)).toEqual(Array(4).fill(MediaType.OciLayerGzip));
    const cfg = await run('skopeo', ['inspect', '--raw', '--config', '--tls-verify=false', `docker://${cacheRef()}`], {
      encoding: 'utf8',
    });
    expect(Object.keys((JSON.parse(cfg.stdout) as { records: object }).records)).toHaveLength(6);
  });

  it('a missing cache is a warning, not a failure', async () => {
    const r = build(await tmp.make(), registry.host, [
      '--cache-from',
      `type=registry,ref=${registry.host}/cache/none:nothing`,
      ctxA,
    ]);
    expect(
      logs(r).some((l) => /^warn: --cache-from registry .*cache\/none:nothing: no cache found there yet/.test(l)),
    ).toBe(true);
    expect(steps(r).every((s) => s.startsWith('RAN'))).toBe(true);
  });

  it('a failed export fails the build, unless the spec says ignore-error=true', async () => {
    const locked = await startRegistry({ auth: 'htpasswd' });
    try {
      const ref = `type=registry,ref=${locked.host}/cache/denied:buildcache`;
      const env = { DOCKER_CONFIG: await tmp.make() };
      const failed = build(
        await tmp.make(),
        registry.host,
        ['--insecure-registry', locked.host, '--cache-to', ref, ctxA],
        { allowFail: true, env },
      );
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(new RegExp(`${locked.host.replace(/\./g, '\\.')}`));
      const ignored = build(
        await tmp.make(),
        registry.host,
        ['--insecure-registry', locked.host, '--cache-to', `${ref},ignore-error=true`, ctxA],
        { env },
      );
      expect(
        logs(ignored).some((l) =>
          l.startsWith(`warn: cache export to registry ${locked.host}/cache/denied:buildcache failed (ignored): `),
        ),
      ).toBe(true);
      expect(manifestDigest(ignored)).toMatch(/^sha256:/);
    } finally {
      await locked.stop();
    }
  });

  it('a bad spec is a usage error (exit 2) before anything runs', async () => {
    const r = build(await tmp.make(), registry.host, ['--cache-to', 'type=registry,ref=h.io/a:b,mode=all', ctxA], {
      allowFail: true,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mode=all: expected min or max/);
  });
});

describe('mode=max with a multi-stage build', () => {
  it('a change in the final stage reuses the builder stage from the cache (and never downloads its layer)', async () => {
    const buildfile = [
      `FROM ${registry.base} AS builder`,
      'RUN mkdir /out && echo compiled > /out/bin && echo ran-builder',
      `FROM ${registry.base}`,
      'COPY --from=builder /out /app',
      'COPY app.txt /app/app.txt',
      'RUN cat /app/app.txt > /app/copy && echo ran-final',
      '',
    ].join('\n');
    const ctx = await writeContext(await tmp.make(), { Buildfile: buildfile, 'app.txt': 'one\n' });
    const ref = (mode: string): string => `type=registry,ref=${registry.host}/cache/multi:${mode}`;
    const a = build(await tmp.make(), registry.host, [
      '--cache-to',
      `${ref('max')},mode=max`,
      '--cache-to',
      `${ref('min')},mode=min`,
      ctx,
    ]);
    const builderLayer = stageLayers(a, 'builder')[0]!;
    expect(builderLayer).toMatch(/^sha256:/);

    await writeFile(join(ctx, 'app.txt'), 'two\n');
    const rootB = await tmp.make();
    const b = build(rootB, registry.host, ['--cache-from', ref('max'), ctx]);
    expect(steps(b)).toEqual([
      'CACHED builder: RUN mkdir /out && echo compiled > /out/bin && echo ran-builder',
      'CACHED stage-1: COPY --from=builder /out /app',
      'RAN stage-1: COPY app.txt /app/app.txt',
      'RAN stage-1: RUN cat /app/app.txt > /app/copy && echo ran-final',
    ]);
    // COPY --from a cached stage keyed by that stage's cache key: the builder's layer was never needed here.
    const { openStore, readJSON } = await import('../../store/index.js');
    const store = await openStore(rootB);
    try {
      // Not downloaded: only recorded with the registry cache as its source (a later local build can use it).
      expect(existsSync(store.blobs.path(builderLayer as never))).toBe(false);
      expect((await store.blobs.lazySource(builderLayer as never))?.sources[0]).toMatchObject({
        kind: 'registry',
        repository: 'cache/multi',
      });
      // The built image itself (no -t here) is whole in the store: every layer of its manifest is there or lazy.
      const manifest = await readJSON<{ layers: { digest: string }[] }>(store.blobs, manifestDigest(b) as never);
      for (const l of manifest.layers) expect(await store.blobs.has(l.digest as never), l.digest).toBe(true);
    } finally {
      await store.close();
    }

    // mode=min exported only the final image's steps: the builder stage runs again.
    const c = build(await tmp.make(), registry.host, ['--cache-from', ref('min'), ctx]);
    expect(steps(c)[0]).toBe('RAN builder: RUN mkdir /out && echo compiled > /out/bin && echo ran-builder');
  });
});
