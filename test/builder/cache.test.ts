// Cache behaviour, errors and reproducibility, on real builds: touching a file rebuilds from the COPY that reads
// it; changing a build arg rebuilds from its first use; a failing RUN reports and tags nothing; SOURCE_DATE_EPOCH
// gives the same manifest digest on two stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, REPO, stepResults, tsbFor, type Tsb } from './helpers/tsb.js';
import { build, isNotCached, NotCachedError } from '../../index.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('cache'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

async function context(name: string, buildfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  for (const [f, c] of Object.entries(files)) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), c);
  }
  return dir;
}

const cachedMap = (stderr: string): string[] =>
  stepResults(events(stderr)).map((s) => `${s.cached ? 'CACHED' : 'RAN'} ${s.instruction}`);

describe('cache', () => {
  it('touching a file rebuilds from the COPY that reads it, not before', async () => {
    const dir = join(work, 'touch');
    await cp(join(REPO, 'samples/hello'), dir, { recursive: true });
    ok(tsb(['build', '-q', '-t', 'touch:1', dir]), 'first');
    await writeFile(join(dir, 'hello.sh'), '#!/bin/sh\necho "$GREETING, changed"\n');
    const b = tsb(['build', '--progress=json', '-t', 'touch:1', dir]);
    ok(b, 'second');
    expect(cachedMap(b.stderr)).toEqual([
      'CACHED FROM busybox:latest',
      'CACHED ENV GREETING="Hello from tsbuild"',
      'CACHED RUN mkdir -p /app && echo "built on $(uname -m)" > /app/build-info',
      'RAN COPY hello.sh /app/hello.sh',
      'RAN RUN chmod 755 /app/hello.sh',
      'RAN WORKDIR /app',
      'RAN USER nobody',
      'RAN CMD ["/app/hello.sh"]',
    ]);
    const misses = events(b.stderr).flatMap((e) => (e.type === 'cache-miss' ? [`${e.step.index} ${e.reason}`] : []));
    expect(misses[0]).toBe('4 file changed: hello.sh');
    expect(misses.slice(1).every((m) => m.endsWith('parent changed'))).toBe(true);
    expect(tsb(['run', 'touch:1']).stdout).toContain('Hello from tsbuild, changed');
    // a touch that keeps the content is still a cache hit (content, not mtime, is hashed)
    await writeFile(join(dir, 'hello.sh'), '#!/bin/sh\necho "$GREETING, changed"\n');
    const c = tsb(['build', '--progress=json', '-t', 'touch:1', dir]);
    expect(cachedMap(c.stderr).every((s) => s.startsWith('CACHED'))).toBe(true);
  });

  it('a rerun COPY links unchanged files from its previous layer and gives the same layer as a full copy', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`d/f${i}.txt`] = `file ${i}\n`;
    const dir = await context('relink', 'FROM busybox:latest\nCOPY d /tmp/\n', files);
    ok(tsb(['build', '-q', '-t', 'relink:1', dir]), 'first');
    await writeFile(join(dir, 'd/f3.txt'), 'changed\n');
    const layerOf = (stderr: string): string | undefined =>
      events(stderr).flatMap((e) =>
        e.type === 'step-end' && e.step.instruction.startsWith('COPY') ? [e.layer?.digest] : [],
      )[0];
    const relinked = tsb(['build', '--progress=json', '-t', 'relink:1', dir]);
    ok(relinked, 'second');
    const full = tsb(['build', '--progress=json', '--no-cache', '-t', 'relink:2', dir]);
    ok(full, 'no-cache');
    expect(layerOf(relinked.stderr)).toMatch(/^sha256:/);
    expect(layerOf(relinked.stderr)).toBe(layerOf(full.stderr));
    expect(tsb(['run', 'relink:1', 'cat', '/tmp/f3.txt', '/tmp/f4.txt']).stdout).toBe('changed\nfile 4\n');
  });

  it('changing a build arg rebuilds from its first use', async () => {
    const dir = await context(
      'args',
      'FROM busybox:latest\nRUN echo a > /a\nARG V=1\nCOPY f /f\nRUN echo "$V" > /v\nRUN cat /v > /w\n',
      { f: 'file' },
    );
    ok(tsb(['build', '-q', '--build-arg', 'V=1', '-t', 'args:1', dir]), 'first');
    const b = tsb(['build', '--progress=json', '--build-arg', 'V=2', '-t', 'args:1', dir]);
    ok(b, 'second');
    expect(cachedMap(b.stderr)).toEqual([
      'CACHED FROM busybox:latest',
      'CACHED RUN echo a > /a',
      'CACHED ARG V=1',
      'CACHED COPY f /f',
      'RAN RUN echo "$V" > /v',
      'RAN RUN cat /v > /w',
    ]);
    const misses = events(b.stderr).flatMap((e) => (e.type === 'cache-miss' ? [e.reason] : []));
    expect(misses).toEqual(['build arg changed: V', 'parent changed']);
    expect(tsb(['run', 'args:1', 'cat', '/w']).stdout).toBe('2\n');
  });

  it('--no-cache-filter rebuilds only the named stage', async () => {
    const dir = await context(
      'filter',
      'FROM busybox:latest AS a\nRUN echo a > /a\nFROM busybox:latest AS b\nRUN echo b > /b\nFROM busybox:latest\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n',
    );
    ok(tsb(['build', '-q', '-t', 'filter:1', dir]), 'first');
    const b = tsb(['build', '--progress=json', '--no-cache-filter', 'b', '-t', 'filter:1', dir]);
    ok(b, 'second');
    const steps = stepResults(events(b.stderr));
    expect(steps.filter((s) => s.stage === 'a').every((s) => s.cached)).toBe(true);
    expect(steps.find((s) => s.stage === 'b' && s.instruction.startsWith('RUN'))!.cached).toBe(false);
  });
});

describe('errors', () => {
  it('a failing RUN names the step, line, exit code and last output; nothing is tagged', async () => {
    const dir = await context(
      'fail',
      'FROM busybox:latest\nRUN echo one\nRUN echo "about to fail" && echo oops >&2 && exit 3\n',
    );
    const b = tsb(['build', '--progress=plain', '-t', 'fail:1', dir]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('[stage-0 3/3] RUN echo "about to fail"');
    expect(b.stderr).toMatch(/exited with code 3/);
    expect(b.stderr).toMatch(/Buildfile:3 \| RUN echo "about to fail"/);
    expect(b.stderr).toMatch(/last output:\n\s+about to fail\n\s+oops/);
    const r = tsb(['run', 'fail:1', 'true']);
    expect(r.code).not.toBe(0);
    // no temporary build directory is left behind
    const tmp = await readdir(join(root, 'builder', 'tmp')).catch(() => []);
    expect(tmp).toEqual([]);
  });

  it('a missing COPY source is reported with the step', async () => {
    const dir = await context('missing', 'FROM busybox:latest\nCOPY nothere /x\n');
    const b = tsb(['build', '--progress=plain', dir]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/nothere.*not found/);
  });
});

describe('reproducible builds', () => {
  it('SOURCE_DATE_EPOCH gives the same manifest digest on two stores', async () => {
    const digests: string[] = [];
    for (const n of [1, 2]) {
      const r2 = await mkdtemp(join(tmpdir(), `tsbuild-sde-${n}-`));
      try {
        const t = tsbFor(r2, registry.host);
        const meta = join(work, `meta-${n}.json`);
        ok(
          t(['build', '-q', '--metadata-file', meta, join(REPO, 'samples/hello')], {
            env: { SOURCE_DATE_EPOCH: '1700000000' },
          }),
          `build ${n}`,
        );
        const m = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
        expect(m['containerimage.digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
        digests.push(m['containerimage.digest']!);
      } finally {
        await rm(r2, { recursive: true, force: true });
      }
    }
    expect(digests[0]).toBe(digests[1]);
  });
});

describe('onlyIfCached (the API; a rootless build tries it before entering its user namespace)', () => {
  it('stops at what is not cached, having stored nothing of it, and gives the built image when all is', async () => {
    const dir = await context('only-cached', 'FROM busybox:latest\nRUN echo ran > /r\nCOPY f.txt /f.txt\n', {
      'f.txt': 'one\n',
    });
    const fresh = await mkdtemp(join(tmpdir(), 'tsbuild-only-cached-'));
    const opts = {
      context: dir,
      registryMirrors: [`http://${registry.host}`],
      insecureRegistries: [registry.host],
    };
    try {
      // a base not in the store: stopped before its pull, so the store holds no image and no layer
      const cold = build({ ...opts, root: fresh, onlyIfCached: true });
      await expect(cold).rejects.toBeInstanceOf(NotCachedError);
      await expect(cold).rejects.toThrow('not cached: docker.io/library/busybox:latest is not in the store');
      expect(tsbFor(fresh, registry.host)(['images', '-q']).stdout).toBe('');
      expect(await readdir(join(fresh, 'layers')).catch(() => [])).toEqual([]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }

    const built = await build({ ...opts, root });
    const again = await build({ ...opts, root, onlyIfCached: true });
    expect(again.imageId).toBe(built.imageId);
    expect(again.stats).toMatchObject({ steps: 3, cached: 3, containers: 0, layersWritten: 0 });
    // an output that reads the layers is not a cached build's either
    const local = build({
      ...opts,
      root,
      onlyIfCached: true,
      outputs: [{ type: 'local', dest: join(work, 'oc-out') }],
    });
    await expect(local).rejects.toThrow('not cached: the layers of stage stage-0 are read');

    await writeFile(join(dir, 'f.txt'), 'two\n');
    const changed = build({ ...opts, root, onlyIfCached: true });
    await expect(changed).rejects.toThrow('not cached: [stage-0 3/3] misses the cache');
    expect(isNotCached(await changed.catch((e: unknown) => e))).toBe(true);
    // the attempt left the store as it was: the build that runs it then works, and the RUN is still a hit
    const next = await build({ ...opts, root });
    expect(next.stats).toMatchObject({ cached: 2, containers: 0 });
    expect(next.imageId).not.toBe(built.imageId);
  });
});
