// Issue 17, multi-platform builds, through the real CLI against the test registry seeded with the multi-arch
// busybox fixture (amd64, arm64/v8, arm/v7: an index and single tags; foreign RUN steps run through qemu-user-static,
// `.ci/install-deps`): one build of several platforms gives one OCI index, stored, pushed, written to archives and
// directories; stages independent of the target platform run once; the cache is per platform; SOURCE_DATE_EPOCH
// makes the index reproducible across stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedMultiarch } from '../fixtures/multiarch.js';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from '../builder/helpers/env.js';
import { BIN, events, ok, stepResults, tsbFor, type Tsb } from '../builder/helpers/tsb.js';
import { podmanLoadRun, podmanRun } from './podman.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('multi', (host) => seedMultiarch(host)));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: {
    mediaType: string;
    digest: string;
    size: number;
    platform: { os: string; architecture: string; variant?: string };
  }[];
}

const platformsOf = (index: Index): string[] =>
  index.manifests.map((m) => [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/'));

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  return dir;
}

/** What the registry holds under `repo:tag`, as skopeo reads it (`--raw`: the bytes, not skopeo's summary). */
function skopeoRaw(ref: string): string {
  return execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' });
}

async function registryGet(path: string, accept: string): Promise<{ body: string; type: string | null }> {
  const res = await fetch(`http://${registry.host}/v2/${path}`, { headers: { accept } });
  expect(res.status).toBe(200);
  return { body: await res.text(), type: res.headers.get('content-type') };
}

const ACCEPT_ALL = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

// Each platform's final stage writes its own file; the architecture is the one the (emulated) RUN saw.
const PER_PLATFORM = [
  'FROM busybox-multi',
  'ARG TARGETPLATFORM',
  'RUN echo "$TARGETPLATFORM $(uname -m)" > /built-for',
  '',
].join('\n');

describe('--platform with a list', () => {
  it('builds 2 platforms into one index, pushed after its manifests, each platform its own image', async () => {
    const ctx = await context('two', { Buildfile: PER_PLATFORM });
    const ref = `${registry.host}/multi/two:1`;
    const meta = join(work, 'two-meta.json');
    const iid = join(work, 'two-iid');
    const b = tsb([
      'build',
      '--progress=json',
      '--platform',
      'linux/amd64,linux/arm64',
      '--push',
      '-t',
      ref,
      '--metadata-file',
      meta,
      '--iidfile',
      iid,
      ctx,
    ]);
    ok(b, 'build 2 platforms');
    // the pushed index lists each platform, in the order of --platform
    const raw = skopeoRaw(ref);
    const index = JSON.parse(raw) as Index;
    expect(index.schemaVersion).toBe(2);
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(platformsOf(index)).toEqual(['linux/amd64', 'linux/arm64']);
    // and each entry is a manifest the registry holds, whose config names its platform
    for (const m of index.manifests) {
      const man = await registryGet(`multi/two/manifests/${m.digest}`, ACCEPT_ALL);
      expect(man.type).toBe(m.mediaType);
      const config = JSON.parse(
        (
          await registryGet(
            `multi/two/blobs/${(JSON.parse(man.body) as { config: { digest: string } }).config.digest}`,
            '*/*',
          )
        ).body,
      ) as { architecture: string; os: string };
      expect([config.os, config.architecture]).toEqual([m.platform.os, m.platform.architecture]);
    }
    // --metadata-file and the result name the pushed index
    const pushed = events(b.stderr).find((e) => e.type === 'image-pushed');
    expect(pushed && 'digest' in pushed && pushed.digest).toMatch(/^sha256:/);
    const metadata = JSON.parse(await readFile(meta, 'utf8')) as Record<string, unknown>;
    expect(metadata['containerimage.digest']).toBe(pushed && 'digest' in pushed ? pushed.digest : '');
    expect(metadata['containerimage.descriptor']).toMatchObject({
      mediaType: 'application/vnd.oci.image.index.v1+json',
    });
    expect(metadata).not.toHaveProperty('containerimage.config.digest');
    // --iidfile holds the local index's digest: the one the store tags
    const digest = await readFile(iid, 'utf8');
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const result = events(b.stderr).find((e) => e.type === 'result');
    expect(result && 'imageId' in result && result.imageId).toBe(digest);
  });

  it('builds 3 platforms (amd64, arm64, arm/v7), each RUN on its own architecture, pushed as one index', async () => {
    const ctx = await context('three', { Buildfile: PER_PLATFORM });
    const ref = `${registry.host}/multi/three:1`;
    const out = join(work, 'three-local');
    const b = tsb([
      'build',
      '--progress=json',
      '--platform',
      'linux/amd64,linux/arm64,linux/arm/v7',
      '--push',
      '-t',
      ref,
      '-o',
      `type=local,dest=${out}`,
      ctx,
    ]);
    ok(b, 'build 3 platforms');
    const index = JSON.parse(skopeoRaw(ref)) as Index;
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(platformsOf(index)).toEqual(['linux/amd64', 'linux/arm64', 'linux/arm/v7']);
    // -o type=local: one directory per platform, named as buildx names them, each with its platform's result
    expect((await readdir(out)).sort()).toEqual(['linux_amd64', 'linux_arm64', 'linux_arm_v7']);
    expect(await readFile(join(out, 'linux_amd64/built-for'), 'utf8')).toBe('linux/amd64 x86_64\n');
    expect(await readFile(join(out, 'linux_arm64/built-for'), 'utf8')).toBe('linux/arm64 aarch64\n');
    expect(await readFile(join(out, 'linux_arm_v7/built-for'), 'utf8')).toBe('linux/arm/v7 armv7l\n');
    // each step's events name its platform, and the stage shows it as BuildKit's progress does
    const runs = events(b.stderr).flatMap((e) =>
      e.type === 'step-end' && e.step.instruction.startsWith('RUN') ? [e.step] : [],
    );
    expect(runs.map((s) => s.platform).sort()).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
    for (const s of runs) expect(s.stage).toBe(`${s.platform} stage-0`);
  });
});

// The cross-compilation pattern: the build stage runs on the build platform; what it does without reading a
// TARGET* arg is the same for every target, so it runs once; what reads TARGETARCH runs once per target, natively;
// only the final stage is per platform.
const CROSS = [
  'FROM --platform=$BUILDPLATFORM busybox-multi AS build',
  'RUN echo toolchain-$(uname -m) > /toolchain',
  'ARG TARGETARCH',
  'RUN echo "binary for $TARGETARCH built on $(uname -m)" > /app',
  'FROM busybox-multi',
  'COPY --from=build /toolchain /app /',
  '',
].join('\n');

describe('cross-compilation and the cache', () => {
  const platforms = 'linux/amd64,linux/arm64';
  const toolchain = (r: { instruction: string }): boolean => r.instruction.startsWith('RUN echo toolchain');
  const compile = (r: { instruction: string }): boolean => r.instruction.startsWith('RUN echo "binary');

  it('runs the platform-independent build step once, the TARGETARCH step once per platform, natively', async () => {
    const ctx = await context('cross', { Buildfile: CROSS });
    const out = join(work, 'cross-local');
    const b = tsb([
      'build',
      '--progress=json',
      '--platform',
      platforms,
      '-t',
      'cross:1',
      '-o',
      `type=local,dest=${out}`,
      ctx,
    ]);
    ok(b, 'cross build');
    const steps = stepResults(events(b.stderr));
    // shown for both platforms: run by one, taken by the other as CACHED
    expect(
      steps
        .filter(toolchain)
        .map((s) => s.cached)
        .sort(),
    ).toEqual([false, true]);
    expect(steps.filter(compile).map((s) => s.cached)).toEqual([false, false]);
    expect(await readFile(join(out, 'linux_arm64/app'), 'utf8')).toBe('binary for arm64 built on x86_64\n');
    expect(await readFile(join(out, 'linux_amd64/app'), 'utf8')).toBe('binary for amd64 built on x86_64\n');
    expect(await readFile(join(out, 'linux_arm64/toolchain'), 'utf8')).toBe('toolchain-x86_64\n');
  });

  it('rebuilds unchanged all CACHED, and a change in the shared stage runs once for both platforms', async () => {
    const ctx = await context('cross', { Buildfile: CROSS });
    const again = tsb(['build', '--progress=json', '--platform', platforms, '-t', 'cross:1', ctx]);
    ok(again, 'unchanged rebuild');
    const steps = stepResults(events(again.stderr));
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.filter((s) => !s.cached)).toEqual([]);
    await writeFile(join(ctx, 'Buildfile'), CROSS.replace('toolchain-', 'toolchain-v2-'));
    const changed = tsb(['build', '--progress=json', '--platform', platforms, '-t', 'cross:1', ctx]);
    ok(changed, 'rebuild after a change');
    const after = stepResults(events(changed.stderr));
    expect(
      after
        .filter(toolchain)
        .map((s) => s.cached)
        .sort(),
    ).toEqual([false, true]);
    expect(after.filter(compile).map((s) => s.cached)).toEqual([false, false]);
  });
});

describe('multi-platform results', () => {
  const platforms = 'linux/amd64,linux/arm64';
  const epochBuildfile = ['FROM busybox-multi', 'ARG TARGETARCH', 'RUN echo "$TARGETARCH" > /arch', ''].join('\n');

  it('with SOURCE_DATE_EPOCH, two stores build the same index digest, and push the same one', async () => {
    const ctx = await context('epoch', { Buildfile: epochBuildfile });
    const local: string[] = [];
    const pushed: string[] = [];
    for (const n of [1, 2]) {
      const store = await mkdtemp(join(tmpdir(), `tsbuild-multi-epoch-${n}-`));
      try {
        const iid = join(work, `epoch-${n}`);
        const b = tsbFor(store, registry.host)(
          [
            'build',
            '--progress=json',
            '--platform',
            platforms,
            '--iidfile',
            iid,
            '--push',
            '-t',
            `${registry.host}/multi/epoch-${n}:1`,
            ctx,
          ],
          { env: { SOURCE_DATE_EPOCH: '1700000000' } },
        );
        ok(b, `build in store ${n}`);
        local.push(await readFile(iid, 'utf8'));
        const p = events(b.stderr).find((e) => e.type === 'image-pushed');
        pushed.push(p && 'digest' in p ? p.digest : '');
      } finally {
        await rm(store, { recursive: true, force: true });
      }
    }
    expect(local[0]).toMatch(/^sha256:/);
    expect(local[1]).toBe(local[0]);
    expect(pushed[0]).toMatch(/^sha256:/);
    expect(pushed[1]).toBe(pushed[0]);
  });

  it('-o type=oci writes the index with every platform; images, inspect and run show it and its platforms', async () => {
    const ctx = await context('archive', { Buildfile: epochBuildfile });
    const archive = join(work, 'multi.tar');
    const b = tsb([
      'build',
      '--progress=json',
      '--platform',
      platforms,
      '-t',
      'multi-app:1',
      '-o',
      `type=oci,dest=${archive}`,
      ctx,
    ]);
    ok(b, 'build -o type=oci');
    const index = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${archive}`], { encoding: 'utf8' }),
    ) as Index;
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(platformsOf(index)).toEqual(['linux/amd64', 'linux/arm64']);
    // each platform's image is complete in the archive: skopeo reads its config through the index
    const arm = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', '--override-arch', 'arm64', `oci-archive:${archive}`], {
        encoding: 'utf8',
      }),
    ) as { architecture: string };
    expect(arm.architecture).toBe('arm64');

    const images = tsb(['images', '--json']);
    ok(images, 'images');
    const row = (JSON.parse(images.stdout) as { name: string; platforms?: string[]; mediaType: string }[]).find(
      (r) => r.name === 'docker.io/library/multi-app:1',
    );
    expect(row).toMatchObject({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      platforms: ['linux/amd64', 'linux/arm64'],
    });
    expect(tsb(['images']).stdout).toMatch(/multi-app\s+1\s+.*linux\/amd64,linux\/arm64/);

    const inspected = tsb(['inspect', '--platform', 'linux/arm64', 'multi-app:1']);
    ok(inspected, 'inspect --platform');
    const info = JSON.parse(inspected.stdout) as {
      config: { architecture: string };
      index?: { manifests: { platform: string }[] };
    };
    expect(info.config.architecture).toBe('arm64');
    expect(info.index?.manifests.map((m) => m.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    // run picks the platform's image of the index (the arm64 one through the emulator), the host's by default
    const arm64 = tsb(['run', '--platform', 'linux/arm64', 'multi-app:1', 'cat', '/arch']);
    ok(arm64, 'run --platform linux/arm64');
    expect(arm64.stdout).toBe('arm64\n');
    expect(tsb(['run', 'multi-app:1', 'cat', '/arch']).stdout).toBe('amd64\n');
    // a prune keeps every platform of a tagged index
    ok(tsb(['prune']), 'prune');
    expect(tsb(['run', '--platform', 'linux/arm64', 'multi-app:1', 'cat', '/arch']).stdout).toBe('arm64\n');
    const missing = tsb(['inspect', '--platform', 'linux/s390x', 'multi-app:1']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('has no linux/s390x image (its platforms: linux/amd64, linux/arm64)');
  });

  it('-o type=docker writes the index and the host image: podman load runs it, skopeo reads both', async () => {
    const ctx = await context('docker-archive', { Buildfile: epochBuildfile });
    const archive = join(work, 'multi-docker.tar');
    const b = tsb([
      'build',
      '--progress=json',
      '--platform',
      platforms,
      '-t',
      'multi-docker:1',
      '-o',
      `type=docker,dest=${archive}`,
      ctx,
    ]);
    ok(b, 'build -o type=docker');
    const member = (name: string): string => execFileSync('tar', ['-xOf', archive, name], { encoding: 'utf8' });
    // an OCI layout (Docker 25's docker save): index.json names the index, which lists both platforms
    const layout = JSON.parse(member('index.json')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    expect(layout.manifests).toHaveLength(1);
    expect(layout.manifests[0]!.annotations).toEqual({
      'io.containerd.image.name': 'docker.io/library/multi-docker:1',
      'org.opencontainers.image.ref.name': '1',
    });
    const index = JSON.parse(member(`blobs/sha256/${layout.manifests[0]!.digest.slice('sha256:'.length)}`)) as Index;
    expect(platformsOf(index)).toEqual(['linux/amd64', 'linux/arm64']);
    // and a docker-archive of ONE image, the host's (amd64), by the layout's blobs
    const manifest = JSON.parse(member('manifest.json')) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0]!.RepoTags).toEqual(['multi-docker:1']);
    expect((JSON.parse(member(manifest[0]!.Config)) as { architecture: string }).architecture).toBe('amd64');
    // skopeo reads the same tar as both
    const asOci = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${archive}`], { encoding: 'utf8' }),
    ) as Index;
    expect(platformsOf(asOci)).toEqual(['linux/amd64', 'linux/arm64']);
    const asDocker = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', `docker-archive:${archive}`], { encoding: 'utf8' }),
    ) as { architecture: string };
    expect(asDocker.architecture).toBe('amd64');
    // podman loads the index (as an OCI archive: its digest is the index's) and runs this machine's image
    const loaded = podmanLoadRun(work, archive, 'multi-docker:1', ['cat', '/arch']);
    expect(loaded.load).toContain('Loaded image: docker.io/library/multi-docker:1');
    expect(loaded.digest).toBe(layout.manifests[0]!.digest);
    expect(loaded.run).toBe('amd64\n');

    // with two names, index.json names the index once per name, as docker's; podman's OCI archive reader wants
    // one entry, so it loads the docker-archive's host image, under both names
    const named = join(work, 'multi-docker-2.tar');
    const second = [
      'build',
      '--progress=json',
      '--platform',
      platforms,
      '-t',
      'multi-docker:1',
      '-t',
      'multi-docker:2',
    ];
    ok(tsb([...second, '-o', `type=docker,dest=${named}`, ctx]), 'build -o type=docker, two names');
    const entries = (
      JSON.parse(execFileSync('tar', ['-xOf', named, 'index.json'], { encoding: 'utf8' })) as typeof layout
    ).manifests;
    expect(entries.map((m) => [m.digest, m.annotations?.['org.opencontainers.image.ref.name']])).toEqual([
      [layout.manifests[0]!.digest, '1'],
      [layout.manifests[0]!.digest, '2'],
    ]);
    const fallback = podmanLoadRun(work, named, 'multi-docker:2', ['cat', '/arch']);
    expect(fallback.load).toContain('multi-docker:1');
    expect(fallback.load).toContain('multi-docker:2');
    expect(fallback.run).toBe('amd64\n');
  });

  it('attaches an SBOM and provenance per platform: skopeo reads the index, podman and tsbuild pull the image', async () => {
    const ctx = await context('attest', { Buildfile: PER_PLATFORM });
    const ref = `${registry.host}/multi/attest:1`;
    const b = tsb(
      ['build', '--progress=plain', '--platform', 'linux/amd64,linux/arm64', '--sbom', '--provenance=mode=min'].concat([
        '--push',
        '-t',
        ref,
        ctx,
      ]),
    );
    ok(b, 'build 2 platforms with attestations');
    const index = JSON.parse(skopeoRaw(ref)) as Index & {
      manifests: { annotations?: Record<string, string> }[];
    };
    // each platform's image, then one attestation manifest per platform pointing back at it (BuildKit's layout)
    expect(platformsOf(index)).toEqual(['linux/amd64', 'linux/arm64', 'unknown/unknown', 'unknown/unknown']);
    const [amd, arm, ...atts] = index.manifests;
    expect(atts.map((a) => a.annotations?.['vnd.docker.reference.digest'])).toEqual([amd!.digest, arm!.digest]);
    expect(atts.every((a) => a.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest')).toBe(true);
    // the provenance of each names its own image as subject
    for (const [i, a] of atts.entries()) {
      const m = JSON.parse((await registryGet(`multi/attest/manifests/${a.digest}`, ACCEPT_ALL)).body) as {
        layers: { digest: string; annotations: Record<string, string> }[];
      };
      expect(m.layers.map((l) => l.annotations['in-toto.io/predicate-type'])).toEqual([
        'https://spdx.dev/Document',
        'https://slsa.dev/provenance/v1',
      ]);
      const prov = JSON.parse((await registryGet(`multi/attest/blobs/${m.layers[1]!.digest}`, '*/*')).body) as {
        subject: { digest: { sha256: string } }[];
      };
      expect(`sha256:${prov.subject[0]!.digest.sha256}`).toBe(index.manifests[i]!.digest);
    }
    // podman takes this machine's image, never an unknown/unknown entry; so does a pull into a fresh tsbuild store
    expect(podmanRun(work, ref, 'linux/amd64', ['cat', '/built-for']).trim()).toBe('linux/amd64 x86_64');
    const fresh = tsbFor(join(work, 'attest-fresh-root'), registry.host);
    ok(fresh(['pull', ref]), 'tsbuild pull');
    const inspected = JSON.parse(fresh(['inspect', ref]).stdout) as {
      manifest?: { config?: unknown };
      config?: {
        architecture: string;
      };
    };
    expect(JSON.stringify(inspected)).toContain('"architecture":"amd64"');
  });

  it('refuses -o type=tar with several platforms, before anything runs (exit 2)', async () => {
    const ctx = await context('refused', { Buildfile: epochBuildfile });
    const r = tsb([
      'build',
      '--progress=json',
      '--platform',
      platforms,
      '-o',
      `type=tar,dest=${join(work, 't.tar')}`,
      ctx,
    ]);
    expect(r.code).toBe(2);
    const evs = events(r.stderr);
    expect(evs.map((e) => e.type)).toEqual(['error']);
    expect(evs[0]!.type === 'error' && evs[0]!.message).toContain('-o type=tar holds one filesystem');
  });

  it('exports both platforms to one registry cache: a clean store with --cache-from is all CACHED', async () => {
    const ctx = await context('cache', { Buildfile: CROSS });
    const cacheRef = `${registry.host}/multi/cache:buildcache`;
    const first = await mkdtemp(join(tmpdir(), 'tsbuild-multi-cache-a-'));
    const second = await mkdtemp(join(tmpdir(), 'tsbuild-multi-cache-b-'));
    try {
      const a = tsbFor(
        first,
        registry.host,
      )([
        'build',
        '--progress=json',
        '--platform',
        platforms,
        '--cache-to',
        `type=registry,ref=${cacheRef},mode=max`,
        ctx,
      ]);
      ok(a, 'build with --cache-to');
      const b = tsbFor(
        second,
        registry.host,
      )(['build', '--progress=json', '--platform', platforms, '--cache-from', `type=registry,ref=${cacheRef}`, ctx]);
      ok(b, 'build with --cache-from');
      const evs = events(b.stderr);
      const steps = stepResults(evs).filter((s) => !s.instruction.startsWith('FROM'));
      // both platforms' steps, every one from the cache
      expect(steps.filter((s) => s.stage.startsWith('linux/arm64')).length).toBeGreaterThan(0);
      expect(steps.filter((s) => s.stage.startsWith('linux/amd64')).length).toBeGreaterThan(0);
      expect(steps.filter((s) => !s.cached)).toEqual([]);
      expect(evs.filter((e) => e.type === 'cache-miss')).toEqual([]);
      const digest = (r: { stderr: string }): unknown => events(r.stderr).find((e) => e.type === 'result');
      expect((digest(b) as { manifestDigest: string }).manifestDigest).toBe(
        (digest(a) as { manifestDigest: string }).manifestDigest,
      );
    } finally {
      await rm(first, { recursive: true, force: true });
      await rm(second, { recursive: true, force: true });
    }
  });
});

describe('a registry that refuses OCI indexes', () => {
  it('gets the index as a Docker manifest list, with a warning', async () => {
    // In front of the test registry: every request passes, but a PUT of an OCI index is refused as some registries
    // (older Quay, Artifactory setups) do.
    const refused: string[] = [];
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'PUT' && req.headers['content-type'] === 'application/vnd.oci.image.index.v1+json') {
          refused.push(req.url ?? '');
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }] }));
          return;
        }
        const headers = { ...req.headers, host: registry.host };
        const up = request(`http://${registry.host}${req.url}`, { method: req.method, headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
    const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const ctx = await context('docker-list', { Buildfile: PER_PLATFORM });
      const ref = `${host}/multi/list:1`;
      // the CLI runs asynchronously here: the proxy answers from this process's event loop
      const b = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          BIN,
          [
            '--root',
            root,
            '--registry-mirror',
            `http://${registry.host}`,
            '--insecure-registry',
            registry.host,
            '--insecure-registry',
            host,
            'build',
            '--progress=json',
            '--platform',
            'linux/amd64,linux/arm64',
            '--push',
            '-t',
            ref,
            ctx,
          ],
          { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 },
          (e, stdout, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      ok(b, 'build --push through the refusing registry');
      expect(refused.length).toBeGreaterThan(0);
      const warnings = events(b.stderr).flatMap((e) => (e.type === 'log' && e.level === 'warn' ? [e.message] : []));
      expect(warnings.some((w) => w.includes('pushing it as a Docker manifest list'))).toBe(true);
      const list = JSON.parse(skopeoRaw(`${registry.host}/multi/list:1`)) as Index;
      expect(list.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
      expect(platformsOf(list)).toEqual(['linux/amd64', 'linux/arm64']);
      expect(list.manifests.map((m) => m.mediaType)).toEqual([
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ]);
    } finally {
      await new Promise((res) => proxy.close(res));
    }
  });
});
