// Ground truth for the SBOM (issue 19): what the image's own tools say it holds, not what the scanner says of
// itself. samples/debian-app (apt-get from Debian's mirror): the SBOM's Debian packages are exactly the lines
// `dpkg-query -W` prints inside the image. samples/node-app (`npm ci` against the npm registry): its npm packages
// under /app are exactly what `npm ls --all --json` reports. Both documents validate against the SPDX 2.3 schema
// (spdx/spdx-spec schemas/spdx-schema.json, SPDX 2.3.1, vendored in test/fixtures/schemas).
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryFixture } from '../fixtures/registry.js';
import { seedDebian } from './helpers/debian.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, REPO, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('attest-truth', seedDebian));
}, 1_800_000);

afterAll(() => closeBuildEnv({ registry, root, work }));

interface SpdxPackage {
  name: string;
  versionInfo: string;
  sourceInfo: string;
  externalRefs: { referenceLocator: string }[];
}

/** The SPDX document of the pushed `repo:tag`, read from the registry as any consumer would. */
async function pushedSbom(repo: string, tag: string): Promise<{ packages: SpdxPackage[] }> {
  const get = async (path: string, accept: string): Promise<Response> => {
    const res = await fetch(`http://${registry.host}/v2/${repo}/${path}`, { headers: { accept } });
    expect(res.status).toBe(200);
    return res;
  };
  const index = (await (await get(`manifests/${tag}`, 'application/vnd.oci.image.index.v1+json')).json()) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const att = index.manifests.find((m) => m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest')!;
  const m = (await (await get(`manifests/${att.digest}`, 'application/vnd.oci.image.manifest.v1+json')).json()) as {
    layers: { digest: string; annotations: Record<string, string> }[];
  };
  const layer = m.layers.find((l) => l.annotations['in-toto.io/predicate-type'] === 'https://spdx.dev/Document')!;
  const statement = (await (await get(`blobs/${layer.digest}`, '*/*')).json()) as {
    predicate: { packages: SpdxPackage[] };
  };
  const schema = JSON.parse(await readFile(join(REPO, 'test/fixtures/schemas/spdx-2.3.schema.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const validate = new Ajv2019({ strict: false, allErrors: true }).compile(schema);
  expect(validate(statement.predicate), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
  return statement.predicate;
}

describe('SBOM ground truth', () => {
  it('debian-app: the Debian packages are exactly what dpkg-query -W prints inside the image', async () => {
    const dest = `${registry.host}/truth/debian-app:1`;
    ok(tsb(['build', '--progress=plain', '--sbom', '--push', '-t', dest, join(REPO, 'samples/debian-app')]), 'build');
    const q = tsb([
      'run',
      '--network',
      'none',
      dest,
      'dpkg-query',
      '-W',
      '-f',
      '${Package} ${Version} ${Architecture}\n',
    ]);
    ok(q, 'dpkg-query');
    const truth = q.stdout.trim().split('\n').sort();
    expect(truth.some((l) => l.startsWith('hello '))).toBe(true);
    const sbom = await pushedSbom('truth/debian-app', '1');
    const debs = sbom.packages
      .filter((p) => p.sourceInfo.startsWith('deb '))
      .map((p) => {
        const arch = /[?&]arch=([^&]+)/.exec(p.externalRefs[0]!.referenceLocator)![1]!;
        return `${p.name} ${p.versionInfo} ${decodeURIComponent(arch)}`;
      })
      .sort();
    expect(debs).toEqual(truth);
    // the CycloneDX form of the same image (every step cached now) lists the same packages
    ok(
      tsb([
        'build',
        '--progress=quiet',
        '--attest',
        'type=sbom,format=cyclonedx',
        '-t',
        'truth/cdx:1',
        join(REPO, 'samples/debian-app'),
      ]),
      'build (CycloneDX)',
    );
    const printed = tsb(['sbom', 'truth/cdx:1']);
    ok(printed, 'sbom (CycloneDX)');
    const cdx = (
      JSON.parse(printed.stdout) as { components: { name: string; version: string; purl: string }[] }
    ).components
      .filter((c) => c.purl.startsWith('pkg:deb/'))
      .map((c) => `${c.name} ${c.version} ${decodeURIComponent(/[?&]arch=([^&]+)/.exec(c.purl)![1]!)}`)
      .sort();
    expect(cdx).toEqual(truth);
  }, 1_200_000);

  it('node-app: the npm packages under /app are exactly what npm ls --all --json reports', async () => {
    const ctx = join(work, 'node-app');
    await mkdir(ctx, { recursive: true });
    await cp(join(REPO, 'samples/node-app'), ctx, { recursive: true });
    // this machine's node and npm (Debian bookworm, the base's own release)
    await cp(process.execPath, join(ctx, 'node'));
    await cp('/usr/lib/node_modules/npm', join(ctx, 'npm'), { recursive: true });
    // the CA bundle this machine's npm trusts (a TLS-inspecting proxy may stand before the registry)
    const cafile = execFileSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).trim();
    await cp(cafile && cafile !== 'null' ? cafile : '/etc/ssl/certs/ca-certificates.crt', join(ctx, 'ca.crt'));
    const dest = `${registry.host}/truth/node-app:1`;
    ok(tsb(['build', '--progress=plain', '--sbom', '--push', '-t', dest, ctx]), 'build node-app');
    const r = tsb(['run', '--network', 'none', dest, 'npm', 'ls', '--all', '--json']);
    ok(r, 'npm ls');
    const truth = new Set<string>();
    const walk = (
      deps: Record<string, { version: string; dependencies?: Record<string, unknown> }> | undefined,
    ): void => {
      for (const [name, d] of Object.entries(deps ?? {})) {
        truth.add(`${name}@${d.version}`);
        walk(d.dependencies as typeof deps);
      }
    };
    walk((JSON.parse(r.stdout) as { dependencies: Parameters<typeof walk>[0] }).dependencies);
    expect(truth.size).toBeGreaterThanOrEqual(8);
    const sbom = await pushedSbom('truth/node-app', '1');
    const npm = sbom.packages
      .filter((p) => p.sourceInfo.startsWith('npm package found in /app/'))
      .map((p) => `${p.name}@${p.versionInfo}`)
      .sort();
    expect(npm).toEqual([...truth].sort());
    // the node binary's own npm (copied in) is in the image, and so in the SBOM, but not in the app's tree
    expect(sbom.packages.some((p) => p.sourceInfo.includes('/usr/local/lib/node_modules/npm/'))).toBe(true);
  }, 1_200_000);
});
