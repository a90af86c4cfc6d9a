// The SBOM and provenance documents against their published schemas, vendored in test/fixtures/schemas (its
// README names each source and version): SPDX 2.3.1 (spdx/spdx-spec schemas/spdx-schema.json, $id
// http://spdx.org/rdf/terms/2.3), in-toto Statement v1 (in-toto/attestation spec/v1), SLSA Provenance v1
// (slsa-framework/slsa docs/spec/v1.1/schema/provenance.cue, predicate https://slsa.dev/provenance/v1).
import { readFileSync } from 'node:fs';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { cyclonedxDocument } from './cyclonedx.js';
import { describe, expect, it } from 'vitest';
import { memoryTree } from './memory-tree.js';
import { scanTree } from './scan.js';
import { spdxDocument } from './spdx.js';
import { provenanceStatement, subjectName, type ProvenanceInput } from './provenance.js';
import { attestationManifest, imageIndex, statementOf } from './attest-manifest.js';
import { isAttestation, type Descriptor, type Digest } from '../../oci/index.js';

// ajv-formats is CommonJS: under NodeNext its function is the default export's `default`
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

const schema = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/schemas/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

const tree = memoryTree({
  '/etc/os-release': 'ID=debian\nVERSION_ID=12\n',
  '/var/lib/dpkg/status': 'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n',
  '/var/lib/dpkg/info/libc6:amd64.md5sums': '0123456789abcdef0123456789abcdef  lib/libc.so.6\n',
  '/app/node_modules/a/package.json': '{"name":"a","version":"1.0.0","license":"(MIT OR Apache-2.0)"}',
  '/app/node_modules/b/package.json': '{"name":"b","version":"1.0.0","license":"SEE LICENSE IN x"}',
});
const opts = { name: 'app:1', created: new Date(1_700_000_000_000), tool: 'Tool: tsbuild-0.1.0' };

function provenanceInput(mode: 'min' | 'max'): ProvenanceInput {
  return {
    mode,
    subjects: [{ name: subjectName('localhost:5000/app:1', 'linux/amd64'), digest: `sha256:${'a'.repeat(64)}` }],
    context: { uri: 'https://example.com/app.git', gitCommit: 'b'.repeat(40) },
    buildfile: { path: 'Dockerfile', sha256: 'c'.repeat(64), text: 'FROM scratch\n' },
    platform: 'linux/amd64',
    materials: [{ uri: 'pkg:docker/debian@bookworm?platform=linux%2Famd64', digest: { sha256: 'd'.repeat(64) } }],
    buildArgs: { A: '1' },
    secretIds: ['tok'],
    startedOn: new Date(1_700_000_000_000),
    finishedOn: new Date(1_700_000_060_000),
    hermetic: false,
    toolVersion: '0.1.0',
    invocationId: 'x',
  };
}

describe('SBOM and provenance documents', () => {
  it('the SPDX document validates against the SPDX 2.3 JSON schema and lists packages and their files', () => {
    const doc = spdxDocument(scanTree(tree), opts);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const validate = ajv.compile(schema('spdx-2.3.schema.json'));
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    const pkgs = doc.packages as { name: string; licenseDeclared: string; licenseComments?: string }[];
    // sorted by kind (deb before npm), then name
    expect(pkgs.map((p) => p.name)).toEqual(['libc6', 'a', 'b']);
    expect(pkgs.find((p) => p.name === 'a')!.licenseDeclared).toBe('(MIT OR Apache-2.0)');
    expect(pkgs.find((p) => p.name === 'b')!.licenseDeclared).toBe('NOASSERTION');
    expect((doc.files as unknown[]).length).toBe(1);
    // a broken document fails the same schema (the check can fail)
    expect(validate({ ...doc, packages: [{ name: 'x' }] })).toBe(false);
  });

  it('the CycloneDX document validates against the CycloneDX 1.6 JSON schema and lists packages and their files', () => {
    // the schemas the CycloneDX library ships (res/schema, CycloneDX 1.6 and its SPDX license and JSF parts)
    const res = (name: string): Record<string, unknown> =>
      JSON.parse(
        readFileSync(
          new URL(`../../node_modules/@cyclonedx/cyclonedx-library/res/schema/${name}`, import.meta.url),
          'utf8',
        ),
      ) as Record<string, unknown>;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    for (const part of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json'])
      ajv.addSchema({ ...res(part), $id: `http://cyclonedx.org/schema/${part}` });
    const validate = ajv.compile(res('bom-1.6.SNAPSHOT.schema.json'));
    const doc = cyclonedxDocument(scanTree(tree), { name: 'app:1', created: opts.created, toolVersion: '0.1.0' });
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    expect((doc.metadata as { timestamp: string }).timestamp).toBe('2023-11-14T22:13:20.000Z');
    const comps = doc.components as { name: string; version: string; purl: string; components?: { name: string }[] }[];
    expect(comps.map((c) => `${c.name}@${c.version}`).sort()).toEqual(['a@1.0.0', 'b@1.0.0', 'libc6@2.36-9']);
    expect(comps.find((c) => c.name === 'libc6')!.components!.map((f) => f.name)).toEqual(['/lib/libc.so.6']);
    // the same scan and time give the same bytes; a broken document fails the schema (the check can fail)
    const again = cyclonedxDocument(scanTree(tree), {
      name: 'app:1',
      created: opts.created,
      toolVersion: '0.1.0',
    });
    expect(JSON.stringify(again)).toBe(JSON.stringify(doc));
    expect(validate({ ...doc, components: [{ name: 'x' }] })).toBe(false);
  });

  it('the same scan and time give the same bytes', () => {
    expect(JSON.stringify(spdxDocument(scanTree(tree), opts))).toBe(JSON.stringify(spdxDocument(scanTree(tree), opts)));
  });

  it('provenance (min and max) validates as an in-toto Statement v1 with an SLSA Provenance v1 predicate', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const statement = ajv.compile(schema('in-toto-statement-v1.schema.json'));
    const predicate = ajv.compile(schema('slsa-provenance-v1.schema.json'));
    for (const mode of ['min', 'max'] as const) {
      const s = provenanceStatement(provenanceInput(mode));
      expect(statement(s), JSON.stringify(statement.errors)).toBe(true);
      expect(predicate(s.predicate), JSON.stringify(predicate.errors)).toBe(true);
      expect(s.predicateType).toBe('https://slsa.dev/provenance/v1');
    }
    expect(predicate({ buildDefinition: { buildType: 'x:y' } })).toBe(false);
  });

  it('min mode leaves out build args, secrets and the Buildfile; max has them, never a secret value', () => {
    const min = JSON.stringify(provenanceStatement(provenanceInput('min')));
    const max = JSON.stringify(provenanceStatement(provenanceInput('max')));
    expect(min).not.toContain('build-arg:A');
    expect(min).not.toContain('tok');
    expect(max).toContain('"build-arg:A":"1"');
    expect(max).toContain('{"id":"tok"}');
    expect(max).toContain('"buildfile":"FROM scratch\\n"');
  });

  it('with SOURCE_DATE_EPOCH the times are the epoch and no invocation id is written', () => {
    const s = provenanceStatement({ ...provenanceInput('min'), epoch: 1_600_000_000 });
    const meta = (s.predicate as { runDetails: { metadata: Record<string, unknown> } }).runDetails.metadata;
    expect(meta.startedOn).toBe('2020-09-13T12:26:40Z');
    expect(meta.finishedOn).toBe('2020-09-13T12:26:40Z');
    expect(meta.invocationId).toBeUndefined();
    expect(meta.buildkit_reproducible).toBe(true);
  });

  it('attestation manifest and index as BuildKit lays them out', () => {
    const image: Descriptor = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${'e'.repeat(64)}` as Digest,
      size: 100,
      platform: { architecture: 'amd64', os: 'linux' },
    };
    const m = attestationManifest(image, [statementOf('https://spdx.dev/Document', Buffer.from('{}'))]);
    expect(m.descriptor.platform).toEqual({ architecture: 'unknown', os: 'unknown' });
    expect(m.descriptor.annotations).toEqual({
      'vnd.docker.reference.digest': image.digest,
      'vnd.docker.reference.type': 'attestation-manifest',
    });
    const manifest = JSON.parse(m.blobs[m.blobs.length - 1]!.bytes!.toString()) as { layers: Descriptor[] };
    expect(manifest.layers[0]!.mediaType).toBe('application/vnd.in-toto+json');
    expect(manifest.layers[0]!.annotations).toEqual({ 'in-toto.io/predicate-type': 'https://spdx.dev/Document' });
    const index = JSON.parse(imageIndex([image], [m.descriptor]).bytes.toString()) as { manifests: Descriptor[] };
    expect(index.manifests.map(isAttestation)).toEqual([false, true]);
  });
});
