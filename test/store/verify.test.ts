// `tsbuild store verify` follows every tag down to every blob and checks index.json against its last good copy;
// every command restores a damaged index.json from that copy (with a warning) or names the file with a hint.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDirs } from '../registry/helpers.js';
import { context, tsb } from './damage-helpers.js';

describe('store verify and a damaged index.json', () => {
  const tmp = tempDirs();
  let ctx: string;

  beforeAll(async () => {
    ctx = await context(join(await tmp.make(), 'ctx'), 'FROM scratch\nCOPY a /a\n', { a: 'verify me\n' });
  });
  afterAll(() => tmp.cleanup());

  /** A store with two tags on one built image. */
  async function store(): Promise<{ root: string; config: string; manifest: string }> {
    const root = await tmp.make();
    const b = await tsb(root, ['build', '-q', '-t', 'local/v:1', '-t', 'local/v:2', '-f', join(ctx, 'Buildfile'), ctx]);
    expect(b.code, b.stderr).toBe(0);
    const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = index.manifests[0]!.digest;
    const m = JSON.parse(readFileSync(join(root, 'blobs', 'sha256', manifest.slice(7)), 'utf8')) as {
      config: { digest: string };
    };
    return { root, config: m.config.digest, manifest };
  }

  it('is ok on a sound store', async () => {
    const { root } = await store();
    const r = await tsb(root, ['store', 'verify']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: ok$/m);
  });

  it('reports a deleted config blob, naming it and the tag', async () => {
    const { root, config } = await store();
    rmSync(join(root, 'blobs', 'sha256', config.slice(7)));
    const r = await tsb(root, ['store', 'verify']);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain(config);
    expect(r.stdout).toMatch(/local\/v:1.*config/);
  });

  it('reports a deleted manifest blob', async () => {
    const { root, manifest } = await store();
    rmSync(join(root, 'blobs', 'sha256', manifest.slice(7)));
    const r = await tsb(root, ['store', 'verify']);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain(manifest);
  });

  it('reports an emptied index.json, and the next command restores its tags with a warning', async () => {
    const { root } = await store();
    writeFileSync(join(root, 'index.json'), '');
    const r = await tsb(root, ['store', 'verify']);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain(join(root, 'index.json'));
    expect(r.stdout).toMatch(/empty/);
    const images = await tsb(root, ['images']);
    expect(images.code, images.stderr).toBe(0);
    expect(images.stderr).toContain('index.json');
    expect(images.stdout).toMatch(/local\/v\s+1\s/);
    expect(images.stdout).toMatch(/local\/v\s+2\s/);
    const again = await tsb(root, ['store', 'verify']);
    expect(again.code, again.stdout).toBe(0);
  });

  it('reports a garbled index.json; a command names the file and restores the last good copy', async () => {
    const { root } = await store();
    writeFileSync(join(root, 'index.json'), '{"schemaVersion": 2, "manifests": [ {"digest": "sha2');
    const v = await tsb(root, ['store', 'verify']);
    expect(v.code, v.stdout + v.stderr).toBe(1);
    expect(v.stdout).toContain(join(root, 'index.json'));
    const images = await tsb(root, ['images']);
    expect(images.code, images.stderr).toBe(0);
    expect(images.stderr).toContain(join(root, 'index.json'));
    expect(images.stderr).toMatch(/restored/);
    // the last good copy is the last version written: both tags come back
    expect(images.stdout).toMatch(/local\/v\s+1\s/);
    expect(images.stdout).toMatch(/local\/v\s+2\s/);
  });

  it('with no last good copy, a garbled index.json is named with a hint, not a raw parse error', async () => {
    const { root } = await store();
    rmSync(join(root, 'index.json.bak'), { force: true });
    writeFileSync(join(root, 'index.json'), 'garbage{');
    const r = await tsb(root, ['images']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(root, 'index.json'));
    expect(r.stderr).toMatch(/hint:/);
    expect(r.stderr).not.toMatch(/Unexpected token|JSON at position/);
    const v = await tsb(root, ['store', 'verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(join(root, 'index.json'));
  });
});
