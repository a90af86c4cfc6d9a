// A damaged stored layer never leaves the store: push fails naming the layer, the image and `tsbuild store verify`,
// and the registry gets no manifest; save fails and leaves neither an archive nor a temp file. Real CLI processes,
// a real registry, bytes flipped and files truncated on disk.
import { existsSync, readdirSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { tempDirs } from '../registry/helpers.js';
import { context, noise, tsb } from './damage-helpers.js';

interface Built {
  root: string;
  layers: { digest: string; size: number; mediaType: string }[];
}

describe('damaged layers in the store', () => {
  let reg: RegistryFixture;
  const tmp = tempDirs();
  let env: NodeJS.ProcessEnv;
  let ctx: string;

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'none' });
    env = { DOCKER_CONFIG: await tmp.make(), TSBUILD_INSECURE_REGISTRY: reg.host, XDG_CONFIG_HOME: await tmp.make() };
    ctx = await context(join(await tmp.make(), 'ctx'), 'FROM scratch\nCOPY a /a\nCOPY b /b\n', {
      a: 'small file\n',
      b: noise(3 << 20),
    });
  });
  afterAll(async () => {
    await reg?.stop();
    await tmp.cleanup();
  });

  async function build(): Promise<Built> {
    const root = await tmp.make();
    const r = await tsb(root, ['build', '-q', '-t', 'local/img:1', '-f', join(ctx, 'Buildfile'), ctx], env);
    expect(r.code, r.stderr).toBe(0);
    const inspect = await tsb(root, ['inspect', 'local/img:1'], env);
    expect(inspect.code, inspect.stderr).toBe(0);
    const j = JSON.parse(inspect.stdout) as { layers?: Built['layers']; manifest?: { layers: Built['layers'] } };
    return { root, layers: j.manifest?.layers ?? j.layers! };
  }
  const blobPath = (root: string, digest: string): string => join(root, 'blobs', 'sha256', digest.slice(7));
  async function flipByte(path: string, at: number): Promise<void> {
    const fh = await open(path, 'r+');
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0] = b[0]! ^ 0x20;
      await fh.write(b, 0, 1, at);
    } finally {
      await fh.close();
    }
  }
  async function manifestStatus(repo: string, tag: string): Promise<number> {
    const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    await res.arrayBuffer();
    return res.status;
  }
  function expectNamed(stderr: string, layer: string): void {
    expect(stderr).toContain(layer);
    expect(stderr).toMatch(/image: \S+/);
    expect(stderr).toContain('tsbuild store verify');
  }

  const damages: [string, (p: string, size: number) => Promise<void>][] = [
    ['a flipped byte', (p, size) => flipByte(p, Math.floor(size / 2))],
    ['a layer truncated to half', (p, size) => truncate(p, Math.floor(size / 2))],
  ];

  for (const [what, damage] of damages) {
    it(`push of ${what} fails naming the layer, and the registry gets no manifest`, async () => {
      const { root, layers } = await build();
      const big = layers.reduce((a, b) => (b.size > a.size ? b : a));
      await damage(blobPath(root, big.digest), big.size);
      const repo = `test/${what.replace(/\W+/g, '-')}`;
      const r = await tsb(root, ['push', '--progress=plain', 'local/img:1', `${reg.host}/${repo}:1`], env);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expectNamed(r.stderr, big.digest);
      expect(await manifestStatus(repo, '1')).toBe(404);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    });

    it(`save of ${what} fails, leaving no archive and no temp file`, async () => {
      const { root, layers } = await build();
      const big = layers.reduce((a, b) => (b.size > a.size ? b : a));
      await damage(blobPath(root, big.digest), big.size);
      for (const format of ['oci', 'docker']) {
        const out = await tmp.make();
        const r = await tsb(root, ['save', '--format', format, '-o', join(out, 'img.tar'), 'local/img:1'], env);
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expectNamed(r.stderr, big.digest);
        expect(readdirSync(out)).toEqual([]);
      }
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    });
  }

  it('a stored gzip blob damaged after a good push is refused when pushed as is', async () => {
    const { root } = await build();
    const ok = await tsb(root, ['push', '--progress=plain', 'local/img:1', `${reg.host}/test/good:1`], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await manifestStatus('test/good', '1')).toBe(200);
    // the gzip blobs the push made are remembered (compressed/) and sent as they are by the next push
    const gz = readdirSync(join(root, 'compressed'));
    expect(gz.length).toBeGreaterThan(0);
    const { readFileSync, statSync } = await import('node:fs');
    const gzDigests = gz.map((f) => readFileSync(join(root, 'compressed', f), 'utf8').trim());
    const biggest = gzDigests.reduce((a, b) =>
      statSync(blobPath(root, b)).size > statSync(blobPath(root, a)).size ? b : a,
    );
    await flipByte(blobPath(root, biggest), Math.floor(statSync(blobPath(root, biggest)).size / 2));
    // a second registry, which has none of the blobs (the first would mount them from test/good)
    const reg2 = await startRegistry({ auth: 'none' });
    try {
      const r = await tsb(root, ['push', '--progress=plain', 'local/img:1', `${reg2.host}/test/other:1`], {
        ...env,
        TSBUILD_INSECURE_REGISTRY: reg2.host,
      });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expectNamed(r.stderr, biggest);
      const res = await fetch(`${reg2.url}/v2/test/other/manifests/1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      expect(res.status).toBe(404);
      const blob = await fetch(`${reg2.url}/v2/test/other/blobs/${biggest}`, { method: 'HEAD' });
      expect(blob.status).toBe(404);
    } finally {
      await reg2.stop();
    }
    expect(existsSync(blobPath(root, biggest))).toBe(true);
  });
});
