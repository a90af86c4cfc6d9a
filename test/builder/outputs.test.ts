// `--output` as buildx has it: type=registry and type=image,push=true push (the registry then holds the manifest),
// `-o -` and type=tar write a tar of the final stage's filesystem (stdout carrying only the tar), and an unknown key
// or a contradiction is refused with exit code 2 before anything is built.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { BIN, ok, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
let ctx: string;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('outputs'));
  ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'hello.txt'), 'hello from the output test\n');
  await writeFile(
    join(ctx, 'Buildfile'),
    [
      'FROM busybox:latest',
      'COPY hello.txt /srv/hello.txt',
      'RUN mkdir -p /srv/sub && echo nested > /srv/sub/n.txt && ln -s hello.txt /srv/link && chmod 0750 /srv/sub',
      'CMD ["cat", "/srv/hello.txt"]',
      '',
    ].join('\n'),
  );
});

afterAll(() => closeBuildEnv({ registry, root, work }));

/** The CLI with stdout kept as bytes (a tar is not UTF-8). */
function tsbRaw(args: string[]): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(
    BIN,
    ['--root', root, '--registry-mirror', `http://${registry.host}`, '--insecure-registry', registry.host, ...args],
    { maxBuffer: 256 << 20, timeout: 600_000, cwd: work },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** The registry's manifest for REPO:TAG: HTTP status and the digest it reports. */
async function manifestIn(repo: string, tag: string): Promise<{ status: number; digest: string | null }> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    headers: {
      accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  await res.arrayBuffer();
  return { status: res.status, digest: res.headers.get('docker-content-digest') };
}

/** Paths in a tar (from tar -t), without the leading ./ and trailing /, sorted. */
function tarPaths(tar: Buffer): string[] {
  const list = execFileSync('tar', ['-tf', '-'], { input: tar, encoding: 'utf8', maxBuffer: 64 << 20 });
  return list
    .split('\n')
    .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
    .filter((p) => p !== '' && p !== '.')
    .sort();
}

/** Paths under a directory (from find), relative, sorted. */
function dirPaths(dir: string): string[] {
  return execFileSync('find', [dir, '-mindepth', '1', '-printf', '%P\\n'], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .filter((p) => p !== '')
    .sort();
}

describe('tsbuild build --output', () => {
  it('-o type=registry,name=REG/REPO:TAG pushes the image: the registry holds its manifest', async () => {
    const name = `${registry.host}/out/registry:1`;
    expect((await manifestIn('out/registry', '1')).status).toBe(404);
    const meta = join(work, 'registry-meta.json');
    const r = tsb(['build', '--progress=plain', '--metadata-file', meta, '-o', `type=registry,name=${name}`, ctx]);
    ok(r, 'type=registry');
    const m = await manifestIn('out/registry', '1');
    expect(m.status).toBe(200);
    const written = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
    expect(m.digest).toBe(written['containerimage.digest']);
    // skopeo reads it back as an image whose config is the built one
    const inspect = JSON.parse(
      execFileSync('skopeo', ['inspect', '--tls-verify=false', '--config', `docker://${name}`], { encoding: 'utf8' }),
    ) as { config: { Cmd: string[] } };
    expect(inspect.config.Cmd).toEqual(['cat', '/srv/hello.txt']);
  });

  it('-o type=image,push=true pushes every name (quoted CSV), and tags them in the store', async () => {
    const a = `${registry.host}/out/image:1`;
    const b = `${registry.host}/out/image:2`;
    const r = tsb(['build', '--progress=plain', '-o', `type=image,"name=${a},${b}",push=true`, ctx]);
    ok(r, 'type=image,push=true');
    expect((await manifestIn('out/image', '1')).status).toBe(200);
    expect((await manifestIn('out/image', '2')).status).toBe(200);
    expect(tsb(['run', b]).stdout).toBe('hello from the output test\n');
  });

  it('-o type=image,push=false keeps the image local, and --push with it is refused', async () => {
    const name = `${registry.host}/out/local-only:1`;
    ok(tsb(['build', '--progress=plain', '-o', `type=image,name=${name},push=false`, ctx]), 'push=false');
    expect((await manifestIn('out/local-only', '1')).status).toBe(404);
    expect(tsb(['run', name]).stdout).toBe('hello from the output test\n');
    const r = tsb(['build', '--push', '-o', `type=image,name=${name},push=false`, ctx]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--push contradicts -o type=image,push=false');
    expect((await manifestIn('out/local-only', '1')).status).toBe(404);
  });

  it('-o - writes a tar of the final stage to stdout (only the tar), listing what type=local writes', async () => {
    const dir = join(work, 'local');
    ok(tsb(['build', '--progress=plain', '-o', `type=local,dest=${dir}`, ctx]), 'type=local');
    const r = tsbRaw(['build', '--progress=plain', '-o', '-', ctx]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length % 512).toBe(0);
    expect(r.stdout.subarray(r.stdout.length - 1024).equals(Buffer.alloc(1024))).toBe(true);
    const paths = tarPaths(r.stdout);
    expect(paths).toContain('srv/sub/n.txt');
    expect(paths).toContain('bin/busybox');
    expect(paths).toEqual(dirPaths(dir));
    const hello = execFileSync('tar', ['-xOf', '-', 'srv/hello.txt'], { input: r.stdout, encoding: 'utf8' });
    expect(hello).toBe('hello from the output test\n');
    const verbose = execFileSync('tar', ['-tvf', '-'], { input: r.stdout, encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(verbose).toMatch(/^drwxr-x--- \S+ .* srv\/sub\/$/m);
    expect(verbose).toMatch(/^l\S+ .* srv\/link -> hello\.txt$/m);
    // no directory named - was made (what -o - did before)
    expect(existsSync(join(work, '-'))).toBe(false);
  });

  it('-o type=tar,dest=FILE writes the same tar to a file', async () => {
    const file = join(work, 'out', 'rootfs.tar');
    const r = tsb(['build', '--progress=plain', '-o', `type=tar,dest=${file}`, ctx]);
    ok(r, 'type=tar');
    expect(r.stdout).toBe('');
    const tar = await readFile(file);
    expect(tarPaths(tar)).toContain('srv/hello.txt');
    expect(tarPaths(tar)).toEqual(tarPaths(tsbRaw(['build', '--progress=plain', '-o', 'type=tar,dest=-', ctx]).stdout));
  });

  it('type=oci without dest writes the OCI layout tar to stdout; -q with a tar on stdout is refused', () => {
    const r = tsbRaw(['build', '--progress=plain', '-o', 'type=oci,name=out/oci:1', ctx]);
    expect(r.code, r.stderr).toBe(0);
    const paths = tarPaths(r.stdout);
    expect(paths).toContain('oci-layout');
    expect(paths).toContain('index.json');
    const index = JSON.parse(
      execFileSync('tar', ['-xOf', '-', 'index.json'], { input: r.stdout, encoding: 'utf8' }),
    ) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    expect(index.manifests[0]!.annotations?.['io.containerd.image.name']).toBe('docker.io/out/oci:1');
    const q = tsbRaw(['build', '-q', '-o', '-', ctx]);
    expect(q.code).toBe(2);
    expect(q.stderr).toContain('-q and -o type=tar,dest=- both write to stdout');
    expect(q.stdout.length).toBe(0);
  });

  it('refuses an unknown key with exit code 2, naming the key and the output type, before building', async () => {
    const name = `${registry.host}/out/refused:1`;
    for (const [spec, key, type] of [
      [`type=registry,name=${name},unpack=true`, 'unpack', 'registry'],
      [`type=image,name=${name},push=true,store=false`, 'store', 'image'],
      [`type=local,dest=${join(work, 'never')},platform-split=false`, 'platform-split', 'local'],
    ]) {
      const r = tsb(['build', '--progress=plain', '-o', spec!, ctx]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${key}= is not supported for type=${type}`);
    }
    expect((await manifestIn('out/refused', '1')).status).toBe(404);
  });
});
