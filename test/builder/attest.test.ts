// Attestations (issue 19) end to end: a build with --sbom and --provenance pushes an index of [image, attestation
// manifest] laid out as BuildKit's (skopeo reads it, podman pulls the image and never the unknown/unknown entry,
// tsbuild pull picks the image), a build without attestation flags stays a single manifest, and the SBOM and
// provenance (min) are byte-identical across two stores under SOURCE_DATE_EPOCH.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, tsbFor, type Tsb } from './helpers/tsb.js';
import { PODMAN_ULIMITS } from '../fixtures/podman.js';

const run = promisify(execFile);
let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
const podmanRefs: string[] = [];

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('attest'));
});

afterAll(async () => {
  for (const r of podmanRefs) await run('podman', ['rmi', '--force', r]).catch(() => undefined);
  await closeBuildEnv({ registry, root, work });
});

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  return dir;
}

async function skopeoRaw(ref: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

async function blob(repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/blobs/${digest}`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function manifest(repo: string, digest: string): Promise<{ layers: Desc[]; config: Desc }> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${digest}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { layers: Desc[]; config: Desc };
}

/** The in-toto statements of the attestation manifest of `repo:tag`, by predicate type. */
async function statementsOf(repo: string, tag: string): Promise<Map<string, Record<string, unknown>>> {
  const index = (await skopeoRaw(`${registry.host}/${repo}:${tag}`)) as { manifests: Desc[] };
  const att = index.manifests.find((d) => d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest')!;
  const m = await manifest(repo, att.digest);
  const out = new Map<string, Record<string, unknown>>();
  for (const l of m.layers) {
    out.set(
      l.annotations!['in-toto.io/predicate-type']!,
      JSON.parse((await blob(repo, l.digest)).toString()) as Record<string, unknown>,
    );
  }
  return out;
}

describe('attestations', () => {
  it('a push without attestation flags stays one image manifest (nothing turns into an index unasked)', async () => {
    const ctx = await context('plain', { Dockerfile: 'FROM busybox\nRUN echo hi > /hi\n' });
    ok(tsb(['build', '--progress=quiet', '--push', '-t', `${registry.host}/att/plain:1`, ctx]), 'build --push');
    const raw = await skopeoRaw(`${registry.host}/att/plain:1`);
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  it('--sbom --provenance=mode=max pushes [image, attestation manifest] as BuildKit lays them out', async () => {
    const ctx = await context('attested', {
      Dockerfile: 'FROM busybox\nARG GREETING=hi\nRUN echo $GREETING > /hi\nCOPY --from=busybox /bin/busybox /bb\n',
    });
    const ref = `${registry.host}/att/app:1`;
    ok(
      tsb([
        'build',
        '--progress=quiet',
        '--sbom',
        '--provenance=mode=max',
        '--build-arg',
        'GREETING=hello',
        '--push',
        '-t',
        ref,
        ctx,
      ]),
      'build --sbom --provenance',
    );
    const index = (await skopeoRaw(ref)) as { mediaType: string; manifests: Desc[] };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests).toHaveLength(2);
    const [image, att] = index.manifests as [Desc, Desc];
    expect(image.platform?.os).toBe('linux');
    expect(att.platform).toEqual({ architecture: 'unknown', os: 'unknown' });
    expect(att.annotations).toEqual({
      'vnd.docker.reference.digest': image.digest,
      'vnd.docker.reference.type': 'attestation-manifest',
    });
    const m = await manifest('att/app', att.digest);
    expect(m.layers.map((l) => [l.mediaType, l.annotations?.['in-toto.io/predicate-type']])).toEqual([
      ['application/vnd.in-toto+json', 'https://spdx.dev/Document'],
      ['application/vnd.in-toto+json', 'https://slsa.dev/provenance/v1'],
    ]);
    const byType = await statementsOf('att/app', '1');
    const sbom = byType.get('https://spdx.dev/Document')!;
    const prov = byType.get('https://slsa.dev/provenance/v1')!;
    // both name the pushed image manifest as their subject
    for (const s of [sbom, prov])
      expect((s.subject as { digest: { sha256: string } }[])[0]!.digest.sha256).toBe(image.digest.slice(7));
    // busybox alone: no package database, no packages, no error
    expect((sbom.predicate as { packages: unknown[] }).packages).toEqual([]);
    const pred = prov.predicate as {
      buildDefinition: {
        externalParameters: { request: { args: Record<string, string> } };
        resolvedDependencies: { uri: string; digest: { sha256: string } }[];
      };
      runDetails: { metadata: Record<string, unknown> };
    };
    expect(pred.buildDefinition.externalParameters.request.args['build-arg:GREETING']).toBe('hello');
    // the base image and the COPY --from image, each by digest
    expect(pred.buildDefinition.resolvedDependencies.map((d) => d.uri)).toEqual([
      'pkg:docker/docker.io/library/busybox:latest',
      expect.stringMatching(/^pkg:docker\/docker\.io\/library\/busybox:latest\?platform=linux%2F/),
    ]);
    for (const d of pred.buildDefinition.resolvedDependencies) expect(d.digest.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(pred.runDetails.metadata.buildkit_hermetic).toBe(false);

    // the store holds the index under the name: inspect --attestations and sbom read them back
    const inspected = tsb(['inspect', '--attestations', ref]);
    ok(inspected, 'inspect --attestations');
    const atts = (JSON.parse(inspected.stdout) as { attestations: { subject: string; predicateType: string }[] })
      .attestations;
    expect(atts.map((a) => [a.subject, a.predicateType])).toEqual([
      [image.digest, 'https://spdx.dev/Document'],
      [image.digest, 'https://slsa.dev/provenance/v1'],
    ]);
    const printed = tsb(['sbom', ref]);
    ok(printed, 'sbom');
    expect(JSON.parse(printed.stdout)).toEqual(sbom.predicate);
    // an image built without attestations has none to print
    ok(tsb(['build', '--progress=quiet', '-t', 'att/unattested:1', ctx]), 'build without attestations');
    const none = tsb(['sbom', 'att/unattested:1']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('has no SBOM attestation');

    // tsbuild push of the stored index to another name sends the same index (nothing recompressed or rewritten)
    ok(tsb(['push', '--progress=quiet', ref, `${registry.host}/att/copy:1`]), 'push');
    expect(((await skopeoRaw(`${registry.host}/att/copy:1`)) as { manifests: Desc[] }).manifests).toEqual(
      index.manifests,
    );

    // podman pulls the image of the index (never the unknown/unknown entry) and runs it
    podmanRefs.push(ref);
    await run('podman', ['pull', '--tls-verify=false', '--quiet', ref]);
    const { stdout } = await run('podman', [
      'run',
      '--rm',
      '--runtime',
      'runc',
      ...PODMAN_ULIMITS,
      '--network',
      'none',
      ref,
      'cat',
      '/hi',
    ]);
    expect(stdout).toBe('hello\n');

    // tsbuild pull of the index into a fresh store picks the image, not the attestation
    const other = await mkdtemp(join(tmpdir(), 'tsbuild-attest-pull-'));
    try {
      const t2 = tsbFor(other, registry.host);
      ok(t2(['pull', '--progress=quiet', ref]), 'pull');
      const inspect = t2(['inspect', ref]);
      ok(inspect, 'inspect');
      expect(inspect.stdout).toContain('"linux"');
      expect(inspect.stdout).not.toContain('"unknown"');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('under SOURCE_DATE_EPOCH the SBOM and the provenance (min) are byte-identical across two stores', async () => {
    const ctx = await context('repro', { Dockerfile: 'FROM busybox\nRUN --network=none echo same > /same\n' });
    const digests: string[][] = [];
    for (const n of [1, 2]) {
      const store = await mkdtemp(join(tmpdir(), `tsbuild-attest-repro-${n}-`));
      try {
        // the same names in both builds: the subjects name them
        const ref = `${registry.host}/att/repro:x`;
        ok(
          tsbFor(store, registry.host)(
            [
              'build',
              '--progress=quiet',
              '--sbom=true',
              '--provenance=true',
              '--push',
              '-t',
              `${registry.host}/att/repro:x`,
              '-t',
              ref,
              ctx,
            ],
            {
              env: { SOURCE_DATE_EPOCH: '1700000000' },
            },
          ),
          `build ${n}`,
        );
        const index = (await skopeoRaw(ref)) as { manifests: Desc[] };
        const m = await manifest('att/repro', index.manifests[1]!.digest);
        digests.push(m.layers.map((l) => l.digest));
      } finally {
        await rm(store, { recursive: true, force: true });
      }
    }
    expect(digests[0]).toHaveLength(2);
    expect(digests[1]).toEqual(digests[0]);
    const prov = (await statementsOf('att/repro', 'x')).get('https://slsa.dev/provenance/v1')!;
    expect(
      (prov.predicate as { runDetails: { metadata: Record<string, unknown> } }).runDetails.metadata.buildkit_hermetic,
    ).toBe(true);
  });

  it('a build that only stores an attested image compresses nothing for it; tsbuild push sends what --push would', async () => {
    const ctx = await context('defer', { Dockerfile: 'FROM busybox\nRUN --network=none echo deferred > /d\n' });
    const ref = `${registry.host}/att/defer:1`;
    const epoch = { env: { SOURCE_DATE_EPOCH: '1700000000' } };
    const flags = ['build', '--progress=quiet', '--sbom=true', '--provenance=true'];
    const [s1, s2] = [
      await mkdtemp(join(tmpdir(), 'tsbuild-attest-defer-')),
      await mkdtemp(join(tmpdir(), 'tsbuild-attest-defer-')),
    ];
    try {
      const t1 = tsbFor(s1, registry.host);
      ok(t1([...flags, '-t', ref, ctx], epoch), 'store-only build');
      // the stored index names the image as stored: its RUN layer uncompressed, and no compressed form made of it
      const read = async (digest: string): Promise<Record<string, unknown>> =>
        JSON.parse(await readFile(join(s1, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as Record<string, unknown>;
      const tags = (JSON.parse(await readFile(join(s1, 'index.json'), 'utf8')) as { manifests: Desc[] }).manifests;
      const stored = (await read(
        tags.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === ref)!.digest,
      )) as {
        manifests: Desc[];
      };
      expect(stored.manifests[1]!.annotations?.['vnd.docker.reference.digest']).toBe(stored.manifests[0]!.digest);
      const image = (await read(stored.manifests[0]!.digest)) as { layers: Desc[] };
      const runLayer = image.layers.at(-1)!;
      expect(runLayer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
      expect((await readdir(join(s1, 'compressed'))).filter((f) => f.startsWith(runLayer.digest.slice(7)))).toEqual([]);

      // the scan and the SBOM statement are kept by layer chain: a rebuild (every step cached) takes the statement
      // the store holds, without reading the scan (given a package here: written again, the SBOM would list it),
      // and gives the same index
      const kept = (await readdir(join(s1, 'builder', 'sbom-scans'))).sort();
      expect(kept).toHaveLength(2);
      const scanRecord = join(
        s1,
        'builder',
        'sbom-scans',
        kept.find((f) => !f.endsWith('.statement.json'))!,
      );
      const rec = JSON.parse(await readFile(scanRecord, 'utf8')) as { result: { packages: unknown[] } };
      const planted = { kind: 'npm', name: 'planted', version: '1.0.0', purl: 'pkg:npm/planted@1.0.0', foundIn: '/p' };
      await writeFile(
        scanRecord,
        JSON.stringify({ ...rec, result: { ...rec.result, packages: [{ ...planted, files: [] }] } }),
      );
      ok(t1([...flags, '-t', ref, ctx], epoch), 'store-only rebuild');
      const again = JSON.parse(await readFile(join(s1, 'index.json'), 'utf8')) as { manifests: Desc[] };
      expect(again.manifests).toEqual(tags);
      await writeFile(scanRecord, JSON.stringify(rec));

      // pushed: the image manifest with gzip layers, and the attestations retargeted at it
      ok(t1(['push', '--progress=quiet', ref]), 'tsbuild push');
      const pushed = (await skopeoRaw(ref)) as { manifests: Desc[] };
      const img = pushed.manifests[0]!;
      expect(img.digest).not.toBe(stored.manifests[0]!.digest);
      expect((await manifest('att/defer', img.digest)).layers.at(-1)!.mediaType).toBe(
        'application/vnd.oci.image.layer.v1.tar+gzip',
      );
      expect(pushed.manifests[1]!.annotations?.['vnd.docker.reference.digest']).toBe(img.digest);
      for (const st of (await statementsOf('att/defer', '1')).values())
        expect((st.subject as { digest: { sha256: string } }[]).map((x) => x.digest.sha256)).toEqual([
          img.digest.slice(7),
        ]);

      // the same build pushing from another store sends the very same index
      ok(tsbFor(s2, registry.host)([...flags, '--push', '-t', ref, ctx], epoch), 'build --push');
      expect(await skopeoRaw(ref)).toEqual(pushed);
    } finally {
      await rm(s1, { recursive: true, force: true });
      await rm(s2, { recursive: true, force: true });
    }
  });

  it('--annotation: manifest, index and manifest-descriptor annotations land where buildx puts them, beside the standard ones', async () => {
    const ctx = await context('annotated', { Dockerfile: 'FROM busybox\nRUN echo a > /a\n' });
    const ref = `${registry.host}/att/annotated:1`;
    // the context is a git checkout whose remote carries credentials (never copied into the image)
    const git = (...args: string[]) => run('git', ['-C', ctx, '-c', 'user.email=t@e', '-c', 'user.name=t', ...args]);
    await git('init', '-q');
    await git('remote', 'add', 'origin', 'https://user:token@git.example.com/team/app.git');
    await git('add', '.');
    await git('commit', '-q', '-m', 'x');
    const commit = (await git('rev-parse', 'HEAD')).stdout.trim();
    ok(
      tsb(
        [
          'build',
          '--progress=quiet',
          '--provenance=true',
          '--annotation',
          'org.example.team=build',
          '--annotation',
          'index:org.example.kind=release',
          '--annotation',
          'manifest-descriptor:org.example.d=1',
          '--annotation',
          'manifest[linux/s390x]:org.example.other=no',
          '--push',
          '-t',
          ref,
          ctx,
        ],
        { env: { SOURCE_DATE_EPOCH: '1700000000' } },
      ),
      'build --annotation',
    );
    const index = (await skopeoRaw(ref)) as { manifests: Desc[]; annotations?: Record<string, string> };
    expect(index.annotations).toEqual({ 'org.example.kind': 'release' });
    expect(index.manifests[0]!.annotations).toEqual({ 'org.example.d': '1' });
    const m = (await manifest('att/annotated', index.manifests[0]!.digest)) as unknown as {
      annotations: Record<string, string>;
    };
    expect(m.annotations).toEqual({
      'org.opencontainers.image.created': '2023-11-14T22:13:20Z',
      'org.opencontainers.image.source': 'https://git.example.com/team/app.git',
      'org.opencontainers.image.revision': commit,
      'org.opencontainers.image.base.name': 'docker.io/library/busybox:latest',
      'org.opencontainers.image.base.digest': expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      'org.example.team': 'build',
    });
    const prov = (await statementsOf('att/annotated', '1')).get('https://slsa.dev/provenance/v1')!;
    const cfg = (prov.predicate as { buildDefinition: { externalParameters: { configSource: unknown } } })
      .buildDefinition.externalParameters.configSource;
    expect(cfg).toEqual({
      uri: 'https://git.example.com/team/app.git',
      digest: { gitCommit: commit },
      path: 'Dockerfile',
    });
    // a plain push: the manifest annotations, no index
    ok(
      tsb([
        'build',
        '--progress=quiet',
        '--annotation',
        'manifest:org.example.x=y',
        '--push',
        '-t',
        `${ref}-plain`,
        ctx,
      ]),
      'plain',
    );
    const plain = (await skopeoRaw(`${ref}-plain`)) as { mediaType: string; annotations: Record<string, string> };
    expect(plain.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(plain.annotations['org.example.x']).toBe('y');
  });

  it('scan-stage=true adds one SBOM per other stage built', async () => {
    const ctx = await context('stages', {
      Dockerfile:
        'FROM busybox AS build\nRUN mkdir -p /usr/lib/node_modules/left-pad && echo \'{"name":"left-pad","version":"1.3.0"}\' > /usr/lib/node_modules/left-pad/package.json\nFROM busybox\nCOPY --from=build /usr/lib/node_modules/left-pad/package.json /pkg.json\n',
    });
    const ref = `${registry.host}/att/stages:1`;
    ok(tsb(['build', '--progress=quiet', '--sbom=scan-stage=true', '--push', '-t', ref, ctx]), 'build');
    const index = (await skopeoRaw(ref)) as { manifests: Desc[] };
    const m = await manifest('att/stages', index.manifests[1]!.digest);
    const docs: { name: string; packages: { name: string }[] }[] = [];
    for (const l of m.layers)
      docs.push(
        (JSON.parse((await blob('att/stages', l.digest)).toString()) as { predicate: (typeof docs)[0] }).predicate,
      );
    // the final image holds no package; the build stage holds left-pad
    expect(docs.map((d) => [d.name, d.packages.map((p) => p.name)])).toEqual([
      [ref, []],
      [`${ref} (stage build)`, ['left-pad']],
    ]);
  });

  it('the SBOM scan made while the last layer commits sees the layers below and what that step removed', async () => {
    const pkg = (dir: string, name: string, version: string): string =>
      `mkdir -p ${dir}/${name} && echo '{"name":"${name}","version":"${version}"}' > ${dir}/${name}/package.json`;
    const ctx = await context('beside', {
      Dockerfile: [
        'FROM busybox',
        `RUN ${pkg('/usr/lib/node_modules', 'a', '1.0.0')} && ${pkg('/usr/lib/node_modules', 'b', '2.0.0')}`,
        'ENV X=1',
        // the last step that commits a layer (the scan starts beside its commit): a whiteout, and a new package
        `RUN rm -rf /usr/lib/node_modules/a && ${pkg('/opt/node_modules', 'c', '3.0.0')}`,
        'CMD ["sh"]',
      ].join('\n'),
    });
    const ref = 'att/beside:1';
    ok(tsb(['build', '--progress=quiet', '--sbom=true', '-t', ref, ctx]), 'build');
    const printed = tsb(['sbom', ref]);
    ok(printed, 'sbom');
    const doc = JSON.parse(printed.stdout) as { packages: { name: string; versionInfo: string }[] };
    expect(doc.packages.map((p) => [p.name, p.versionInfo]).sort()).toEqual([
      ['b', '2.0.0'],
      ['c', '3.0.0'],
    ]);
  });

  it('prune removes the kept SBOM scan and statement with the image they were made for', async () => {
    const ctx = await context('prune', { Dockerfile: 'FROM busybox\nRUN echo pruned > /p\n' });
    const store = await mkdtemp(join(tmpdir(), 'tsbuild-attest-prune-'));
    try {
      const t = tsbFor(store, registry.host);
      ok(t(['build', '--progress=quiet', '--sbom=true', '-t', 'att/prune:1', ctx]), 'build');
      const kept = join(store, 'builder', 'sbom-scans');
      expect((await readdir(kept)).map((f) => f.replace(/^[0-9a-f]{64}/, 'H')).sort()).toEqual([
        'H.json',
        'H.statement.json',
      ]);
      // while the image is there, a prune keeps them
      ok(t(['prune']), 'prune');
      expect(await readdir(kept)).toHaveLength(2);
      ok(t(['rmi', 'att/prune:1']), 'rmi');
      const pruned = t(['prune']);
      ok(pruned, 'prune after rmi');
      expect(pruned.stdout + pruned.stderr).toContain('2 SBOM records');
      expect(await readdir(kept)).toEqual([]);
    } finally {
      await rm(store, { recursive: true, force: true });
    }
  });

  it('format=cyclonedx: a CycloneDX 1.6 SBOM of the same packages, shown by inspect and by tsbuild sbom', async () => {
    const ctx = await context('cdx', {
      Dockerfile:
        'FROM busybox\nRUN mkdir -p /usr/lib/node_modules/left-pad && echo \'{"name":"left-pad","version":"1.3.0","license":"WTFPL"}\' > /usr/lib/node_modules/left-pad/package.json\n',
    });
    const ref = 'att/cdx:1';
    ok(tsb(['build', '--progress=quiet', '--attest', 'type=sbom,format=cyclonedx', '-t', ref, ctx]), 'build');
    const inspected = tsb(['inspect', '--attestations', ref]);
    ok(inspected, 'inspect --attestations');
    const atts = (JSON.parse(inspected.stdout) as { attestations: { predicateType: string }[] }).attestations;
    expect(atts.map((a) => a.predicateType)).toEqual(['https://cyclonedx.org/bom']);
    const printed = tsb(['sbom', ref]);
    ok(printed, 'sbom');
    const bom = JSON.parse(printed.stdout) as {
      bomFormat: string;
      specVersion: string;
      components: { name: string; version: string; purl: string; licenses: unknown[] }[];
    };
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    expect(bom.components.map((c) => [c.name, c.version, c.purl, c.licenses])).toEqual([
      ['left-pad', '1.3.0', 'pkg:npm/left-pad@1.3.0', [{ license: { id: 'WTFPL' } }]],
    ]);
    // the SBOM's time is the image's: a rebuild of the same image (every step cached) has the very same SBOM
    ok(tsb(['build', '--progress=quiet', '--attest', 'type=sbom,format=cyclonedx', '-t', ref, ctx]), 'rebuild');
    const again = tsb(['sbom', ref]);
    ok(again, 'sbom again');
    expect(again.stdout).toBe(printed.stdout);
  });

  it('-o type=oci keeps the attestations: the layout names the index, skopeo copies all of it', async () => {
    const ctx = await context('oci-out', { Dockerfile: 'FROM busybox\nRUN echo o > /o\n' });
    const tar = join(work, 'attested-oci.tar');
    ok(
      tsb(['build', '--progress=quiet', '--sbom', '-t', 'att/oci:1', '-o', `type=oci,dest=${tar}`, ctx]),
      'build -o oci',
    );
    const { stdout } = await run('skopeo', ['inspect', '--raw', `oci-archive:${tar}`]);
    const index = JSON.parse(stdout) as { manifests: Desc[] };
    expect(index.manifests.map((d) => d.platform?.os)).toEqual(['linux', 'unknown']);
    expect(index.manifests[1]!.annotations?.['vnd.docker.reference.digest']).toBe(index.manifests[0]!.digest);
    // every blob the index reaches is in the archive
    const copy = join(work, 'oci-copy');
    await run('skopeo', ['copy', '--all', `oci-archive:${tar}`, `oci:${copy}:x`]);
  });

  it('referrers=true: the registry has no referrers API here, so the sha256-<digest> tag index lists them', async () => {
    const ctx = await context('referrers', { Dockerfile: 'FROM busybox\nRUN echo r > /r\n' });
    const ref = `${registry.host}/att/referred:1`;
    // SOURCE_DATE_EPOCH: the second build below makes the same referrer
    const epoch = { env: { SOURCE_DATE_EPOCH: '1700000000' } };
    ok(
      tsb(['build', '--progress=quiet', '--attest', 'type=sbom,referrers=true', '--push', '-t', ref, ctx], epoch),
      'build',
    );
    const index = (await skopeoRaw(ref)) as { manifests: Desc[] };
    const image = index.manifests[0]!;
    // the API answers 404 on this registry (distribution 2.x): the fallback tag is what clients read
    const api = await fetch(`http://${registry.host}/v2/att/referred/referrers/${image.digest}`);
    expect(api.status).toBe(404);
    const fallback = (await skopeoRaw(`${registry.host}/att/referred:${image.digest.replace(':', '-')}`)) as {
      mediaType: string;
      manifests: (Desc & { artifactType?: string })[];
    };
    expect(fallback.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(fallback.manifests).toHaveLength(1);
    expect(fallback.manifests[0]!.artifactType).toBe('application/vnd.in-toto+json');
    const referrer = (await manifest('att/referred', fallback.manifests[0]!.digest)) as unknown as {
      subject: Desc;
      layers: Desc[];
    };
    expect(referrer.subject.digest).toBe(image.digest);
    expect(referrer.layers[0]!.annotations?.['in-toto.io/predicate-type']).toBe('https://spdx.dev/Document');
    // a second push of the same referrer does not list it twice
    ok(
      tsb(['build', '--progress=quiet', '--attest', 'type=sbom,referrers=true', '--push', '-t', ref, ctx], epoch),
      'again',
    );
    const again = (await skopeoRaw(`${registry.host}/att/referred:${image.digest.replace(':', '-')}`)) as {
      manifests: Desc[];
    };
    expect(again.manifests).toHaveLength(1);
  });

  it('refuses what it cannot honour, naming it (exit 2)', () => {
    for (const [args, what] of [
      [['--attest', 'type=vex'], 'unknown attestation type "vex"'],
      [['--attest', 'type=sbom,generator=docker/buildkit-syft-scanner'], 'generator='],
      [['--provenance=mode=full'], 'mode=full'],
      [['--sbom', 'maybe'], '--sbom maybe'],
      [['--annotation', 'index-descriptor:a=b'], '"index-descriptor" annotations'],
      [['--annotation', 'index:a=b'], 'need an image index'],
    ] as const) {
      const r = tsb(['build', '--progress=quiet', ...args, work]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(what);
    }
  });
});
