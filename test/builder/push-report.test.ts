// What a pushed build says it pushed, checked against the registry: one `REF@sha256:…` per tag (the registry's
// Docker-Content-Digest, not the local manifest's), an `image-pushed` event per tag, the same in the report and from
// `tsbuild push` per destination. And the report of a failed build: the failing step's last output lines, the tags,
// platform, build args and version, and never a --secret's value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import type { BuildReport } from '../../cli/report/index.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, REPO, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('push-report'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** The digest the registry holds under `repo:tag` (its Docker-Content-Digest header). */
async function registryDigest(repo: string, tag: string): Promise<string> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_TYPES },
  });
  expect(res.status).toBe(200);
  return res.headers.get('docker-content-digest')!;
}

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  return dir;
}

describe('--push result', () => {
  it('prints, emits and reports the registry digest once per tag, and push prints it per destination', async () => {
    const ctx = await context('pushed', {
      Buildfile: 'FROM busybox\nRUN echo built > /built.txt\n',
    });
    const tags = [`${registry.host}/pr/app:1`, `${registry.host}/pr/app:2`, `${registry.host}/pr/other:1`];
    const report = join(work, 'pushed.json');
    const b = tsb(['build', '--progress=json', '--report', report, '--push', ...tags.flatMap((t) => ['-t', t]), ctx]);
    ok(b, 'build --push');
    const want = await registryDigest('pr/app', '1');
    expect(await registryDigest('pr/app', '2')).toBe(want);
    expect(await registryDigest('pr/other', '1')).toBe(want);
    const evs = events(b.stderr);
    const end = evs.find((e) => e.type === 'build-end');
    // the committed layer is gzipped for the registry: the local manifest is another one
    expect(end?.type === 'build-end' && end.manifestDigest).not.toBe(want);

    // the JSON stream's last event is the result, with one REF@digest per tag
    const last = evs.at(-1);
    expect(last?.type === 'result' && last.pushed).toEqual(tags.map((t) => ({ ref: t, digest: want })));
    expect(evs.filter((e) => e.type === 'image-pushed')).toEqual(
      tags.map((t) => ({ type: 'image-pushed', time: expect.any(Number), ref: t, digest: want })),
    );
    const r = JSON.parse(await readFile(report, 'utf8')) as BuildReport;
    expect(r.pushed).toEqual(tags.map((t) => ({ ref: t, digest: want })));
    // in text: the result lines, one REF@digest per tag, last
    const plain = tsb(['build', '--progress=plain', '--push', ...tags.flatMap((t) => ['-t', t]), ctx]);
    ok(plain, 'build --push (plain)');
    expect(plain.stderr.trimEnd().split('\n').slice(-3)).toEqual(tags.map((t) => `${t}@${want}`));

    // `tsbuild push NAME DEST…`: the digest each destination now holds
    const dests = [`${registry.host}/pr/copy:a`, `${registry.host}/pr/copy2:b`];
    const p = tsb(['push', '--progress=quiet', tags[0]!, ...dests]);
    ok(p, 'push');
    const copyDigest = await registryDigest('pr/copy', 'a');
    expect(await registryDigest('pr/copy2', 'b')).toBe(copyDigest);
    expect(p.stdout.trimEnd().split('\n')).toEqual(dests.map((d) => `${d}: digest: ${copyDigest}`));
  });
});

describe('the report of a failed build', () => {
  it("shows the failing step's last output lines, the tags, platform, build args and version, never a secret", async () => {
    const SECRET = 'hunter2-do-not-print-me';
    const secretFile = join(work, 'token.txt');
    await writeFile(secretFile, SECRET);
    const ctx = await context('failing', {
      Buildfile: [
        'FROM busybox',
        'ARG GREETING',
        'RUN echo "$GREETING" > /greeting',
        'RUN --mount=type=secret,id=tok i=1; while [ $i -le 30 ]; do echo "out line $i"; i=$((i+1)); done; ' +
          'test -s /run/secrets/tok; exit 3',
        '',
      ].join('\n'),
    });
    const json = join(work, 'failed.json');
    const html = join(work, 'failed.html');
    const args = (report: string): string[] => [
      'build',
      '--progress=plain',
      '--report',
      report,
      '-t',
      'app:failing',
      '-t',
      'example.com/team/app:rc1',
      '--build-arg',
      'GREETING=hello world',
      '--secret',
      `id=tok,src=${secretFile}`,
      ctx,
    ];
    const f = tsb(args(json));
    expect(f.code).toBe(1);
    expect(tsb(args(html)).code).toBe(1);

    const r = JSON.parse(await readFile(json, 'utf8')) as BuildReport;
    expect(r.ok).toBe(false);
    const failed = r.steps.filter((s) => s.error !== undefined);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.instruction).toMatch(/^RUN --mount=type=secret,id=tok /);
    const last20 = Array.from({ length: 20 }, (_, i) => `out line ${i + 11}`);
    expect(failed[0]!.lastOutput).toEqual(last20);
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(r.build).toEqual({
      version: pkg.version,
      tags: ['app:failing', 'example.com/team/app:rc1'],
      platform: expect.stringMatching(/^linux\/(amd64|arm64)/),
      buildArgs: { GREETING: 'hello world' },
    });

    const page = await readFile(html, 'utf8');
    expect(page).toContain(`<pre class="mono">${last20.join('\n')}</pre>`);
    for (const s of ['app:failing', 'example.com/team/app:rc1', 'GREETING=hello world', pkg.version, r.build!.platform])
      expect(page).toContain(s);
    for (const text of [page, JSON.stringify(r), f.stderr, f.stdout]) expect(text).not.toContain(SECRET);
  });
});
