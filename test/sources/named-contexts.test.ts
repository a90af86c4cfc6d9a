// `--build-context NAME=…` as buildx documents it: a context named like an image replaces that image
// (docker-image://, oci-layout://), one named like a stage replaces the stage (its instructions do not run), and a
// directory or an HTTP(S) tarball is a tree for `COPY --from=NAME`, `RUN --mount=from=NAME` and `FROM NAME`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxLayout } from '../fixtures/images.js';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from '../builder/helpers/env.js';
import { serveFiles, tsbAsync, type FileServer } from './helpers.js';

let env: BuildTestEnv;
let server: FileServer;

beforeAll(async () => {
  env = await makeBuildEnv('named-ctx');
  const web = join(env.work, 'web');
  await mkdir(web);
  await writeFile(join(web, 'web.txt'), 'from the web\n');
  const tgz = execFileSync('tar', ['-C', web, '-czf', '-', '.'], { maxBuffer: 16 << 20 });
  server = await serveFiles(new Map([['/web.tar.gz', tgz]]));
});
afterAll(async () => {
  await server?.close();
  await closeBuildEnv(env);
});

async function dir(name: string, files: Record<string, string>): Promise<string> {
  const d = join(env.work, name);
  await mkdir(d, { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(d, f), text);
  return d;
}

const build = (args: string[]) => tsbAsync(env.root, env.registry.host, ['build', '--progress=plain', ...args]);
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('--build-context', () => {
  it('docker-image:// replaces the image a FROM names (alpine is not in the registry; busybox is)', async () => {
    const ctx = await dir('img', { Buildfile: 'FROM alpine\nRUN echo ran > /ran\n' });
    const without = await build([ctx]);
    expect(without.code).toBe(1);
    const out = join(env.work, 'out-img');
    const r = await build([
      '--build-context',
      'alpine=docker-image://busybox:latest',
      '-o',
      `type=local,dest=${out}`,
      ctx,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(out, 'ran'), 'utf8')).toBe('ran\n');
    expect(await exists(join(out, 'bin/busybox'))).toBe(true);
  });

  it('oci-layout://PATH:tag replaces an image with one read from a local OCI layout', async () => {
    const layout = await busyboxLayout();
    const ctx = await dir('oci', { Buildfile: 'FROM docker.io/library/tools:latest\nRUN echo ok > /ok\n' });
    const out = join(env.work, 'out-oci');
    const r = await build([
      '--build-context',
      `tools=oci-layout://${layout}:latest`,
      '-o',
      `type=local,dest=${out}`,
      ctx,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(out, 'ok'), 'utf8')).toBe('ok\n');
    expect(await exists(join(out, 'bin/busybox'))).toBe(true);
  });

  it('a context named like a stage replaces the stage: its RUN does not run', async () => {
    const ctx = await dir('stage', {
      Buildfile: 'FROM busybox AS base\nRUN echo from-stage > /which\nFROM scratch\nCOPY --from=base /which /which\n',
    });
    const plain = join(env.work, 'out-stage-plain');
    expect((await build(['-o', `type=local,dest=${plain}`, ctx])).code).toBe(0);
    expect(await readFile(join(plain, 'which'), 'utf8')).toBe('from-stage\n');
    const replacement = await dir('stage-replacement', { which: 'from-context\n' });
    const out = join(env.work, 'out-stage');
    const r = await build(['--build-context', `base=${replacement}`, '-o', `type=local,dest=${out}`, ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(out, 'which'), 'utf8')).toBe('from-context\n');
    expect(r.stderr).not.toMatch(/echo from-stage/);
  });

  it('a directory serves COPY --from, RUN --mount=from and FROM; its content keys the cache', async () => {
    const extra = await dir('extra', { 'data.txt': 'one\n' });
    const ctx = await dir('dirctx', {
      Buildfile: [
        'FROM extra AS tree',
        'FROM busybox',
        'COPY --from=extra data.txt /copied.txt',
        'RUN --mount=from=extra,target=/x cat /x/data.txt > /mounted.txt',
        'COPY --from=tree /data.txt /from-tree.txt',
        '',
      ].join('\n'),
    });
    const run = async (out: string) => {
      const r = await build(['--build-context', `extra=${extra}`, '-o', `type=local,dest=${out}`, ctx]);
      expect(r.code, r.stderr).toBe(0);
      return Promise.all(['copied.txt', 'mounted.txt', 'from-tree.txt'].map((f) => readFile(join(out, f), 'utf8')));
    };
    expect(await run(join(env.work, 'out-dir-1'))).toEqual(['one\n', 'one\n', 'one\n']);
    await writeFile(join(extra, 'data.txt'), 'two\n');
    expect(await run(join(env.work, 'out-dir-2'))).toEqual(['two\n', 'two\n', 'two\n']);
  });

  it('an HTTP(S) tarball is a tree for COPY --from', async () => {
    const ctx = await dir('webctx', { Buildfile: 'FROM scratch\nCOPY --from=web web.txt /web.txt\n' });
    const out = join(env.work, 'out-web');
    const r = await build(['--build-context', `web=${server.url('/web.tar.gz')}`, '-o', `type=local,dest=${out}`, ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(out, 'web.txt'), 'utf8')).toBe('from the web\n');
  });

  it('a Git URL is fetched (an unreachable one fails with exit 1, test/sources/git.test.ts builds one); a missing directory is refused with exit 2', async () => {
    const ctx = await dir('gitctx', { Buildfile: 'FROM scratch\nCOPY --from=src a /a\n' });
    const g = await build(['--build-context', 'src=http://127.0.0.1:1/org/repo.git#main', ctx]);
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/git ls-remote http:\/\/127\.0\.0\.1:1\/org\/repo\.git failed/);
    const m = await build(['--build-context', `src=${join(env.work, 'nope')}`, ctx]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/--build-context src: \S+nope is not a directory/);
  });
});
