// Interop with real tools: skopeo and umoci read `save --format oci`, podman loads `--format docker`, and images
// skopeo writes (oci-archive, including a multi-platform index) load into tsbuild and unpack to the same tree.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../oci/types.js';
import { openStore } from '../../store/index.js';
import { initLayout, multiPlatformLayout, writeBlob, writeImage, writeIndex } from '../fixtures/images.js';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';
import { cleanupTemps, makeRichTree, snapshot, tempDir, tsbuild } from './helpers.js';
import { digestOf } from '../../oci/digest.js';

const podmanImages: string[] = [];
afterAll(async () => {
  for (const i of podmanImages) execFileSync('podman', ['rmi', '--force', i], { stdio: 'ignore' });
  await cleanupTemps();
});

const run = (cmd: string, args: string[], cwd?: string): string =>
  execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...(cwd ? { cwd } : {}) });

describe('archives and real tools', () => {
  it('skopeo and umoci accept save --format oci; podman loads --format docker', async () => {
    const base = await tempDir();
    const root = join(base, 'store');
    fs.mkdirSync(join(base, 'rootfs'));
    const rootfs = await makeBusyboxRootfs(join(base, 'rootfs'));
    run('tar', ['-C', rootfs, '-czf', join(base, 'rootfs.tar.gz'), '.']);
    const name = `localhost/tsbuild-store-interop:${process.pid}`;
    const imp = tsbuild(root, ['import', join(base, 'rootfs.tar.gz'), name]);
    expect(imp.code, imp.stderr).toBe(0);

    const oci = join(base, 'img-oci.tar');
    expect(tsbuild(root, ['save', name, '-o', oci]).code).toBe(0);
    const info = JSON.parse(run('skopeo', ['inspect', `oci-archive:${oci}`])) as {
      Layers: string[];
      Os: string;
      Env: string[];
    };
    expect(info.Layers).toHaveLength(1);
    expect(info.Os).toBe('linux');
    expect(info.Env[0]).toMatch(/^PATH=/);
    // skopeo re-verifies every blob digest when it copies
    run('skopeo', ['copy', '--quiet', `oci-archive:${oci}`, `oci:${join(base, 'copied')}:x`]);
    const layout = join(base, 'layout');
    fs.mkdirSync(layout);
    run('tar', ['-xf', oci, '-C', layout]);
    const layerBlob = join(layout, 'blobs/sha256', info.Layers[0]!.slice(7));
    run('gzip', ['-t', layerBlob]);
    run('umoci', ['unpack', '--image', `${layout}:${process.pid}`, join(base, 'bundle')]);
    expect(snapshot(join(base, 'bundle/rootfs'))).toEqual(snapshot(rootfs));

    const docker = join(base, 'img-docker.tar');
    expect(tsbuild(root, ['save', name, '-o', docker, '--format', 'docker']).code).toBe(0);
    const loaded = run('podman', ['load', '-q', '-i', docker]);
    podmanImages.push(name);
    expect(loaded).toContain(name);
    const pid = JSON.parse(run('podman', ['image', 'inspect', name])) as { RootFS: { Layers: string[] } }[];
    const cfg = JSON.parse(tsbuild(root, ['inspect', name]).stdout) as { config: { rootfs: { diff_ids: string[] } } };
    expect(pid[0]!.RootFS.Layers).toEqual(cfg.config.rootfs.diff_ids);

    // both formats load back into a fresh store as the same image
    for (const f of [oci, docker]) {
      const r2 = join(base, `store-${f.endsWith('docker.tar') ? 'docker' : 'oci'}`);
      const l = tsbuild(r2, ['load', '-i', f]);
      expect(l.code, l.stderr).toBe(0);
      expect(l.stdout).toContain(`Loaded image: ${name}`);
      const again = JSON.parse(tsbuild(r2, ['inspect', name]).stdout) as { id: string };
      expect(again.id).toBe(JSON.parse(tsbuild(root, ['inspect', name]).stdout).id);
    }
  });

  it('an image skopeo wrote (oci-archive) loads and unpacks to the same tree', async () => {
    const base = await tempDir();
    const src = join(base, 'src');
    fs.mkdirSync(src);
    makeRichTree(src);
    const dir = join(base, 'oci');
    await initLayout(dir);
    const layerTar = join(base, 'layer.tar.gz');
    run('tar', ['--xattrs', '--xattrs-include=*', '--sort=name', '--numeric-owner', '-C', src, '-czf', layerTar, '.']);
    const gzBytes = fs.readFileSync(layerTar);
    const layer = await writeBlob(dir, gzBytes, MediaType.OciLayerGzip);
    const rawDigest = digestOf(execFileSync('gzip', ['-dc', layerTar], { maxBuffer: 64 << 20 }));
    const m = await writeImage(
      dir,
      [{ descriptor: layer, diffID: rawDigest }],
      { Cmd: ['/bin/sh'] },
      { os: 'linux', architecture: 'amd64' },
    );
    await writeIndex(dir, [{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    const archive = join(base, 'skopeo.tar');
    run('skopeo', ['copy', '--quiet', `oci:${dir}:latest`, `oci-archive:${archive}:example.com/interop/rich:1`]);

    const root = join(base, 'store');
    const l = tsbuild(root, ['load', '-i', archive]);
    expect(l.code, l.stderr).toBe(0);
    const store = await openStore(root);
    try {
      const rec = await store.images.resolve('example.com/interop/rich:1', { os: 'linux', architecture: 'amd64' });
      expect(rec).toBeDefined();
      const [lower] = await store.layers.lowerdirsFor(rec!);
      expect(await store.layers.diffIDOf(rec!.manifest.layers[0]!)).toBe(rawDigest);
      expect(snapshot(lower!, { mtimes: true })).toEqual(snapshot(src, { mtimes: true }));
    } finally {
      await store.close();
    }
    // the tree record written while unpacking matches what a walk of the unpacked layer finds
    const v = tsbuild(root, ['store', 'verify']);
    expect(v.stdout).toContain('1 unpacked layers: ok');
    expect(v.code).toBe(0);
  });

  it('a multi-platform index from skopeo --all loads, and each platform resolves to its own image', async () => {
    const base = await tempDir();
    const { dir, manifests } = await multiPlatformLayout();
    const archive = join(base, 'multi.tar');
    run('skopeo', [
      'copy',
      '--quiet',
      '--all',
      `oci:${dir}:latest`,
      `oci-archive:${archive}:example.com/interop/multi:1`,
    ]);
    const root = join(base, 'store');
    expect(tsbuild(root, ['load', '-i', archive]).code).toBe(0);
    const store = await openStore(root);
    try {
      for (const [p, digest] of Object.entries(manifests)) {
        const [os, architecture, variant] = p.split('/') as [string, string, string | undefined];
        const rec = await store.images.resolve('example.com/interop/multi:1', {
          os,
          architecture,
          ...(variant ? { variant } : {}),
        });
        expect(rec?.manifestDigest, p).toBe(digest);
        const [lower] = await store.layers.lowerdirsFor(rec!);
        expect(fs.readFileSync(join(lower!, 'platform'), 'utf8')).toBe(`${p}\n`);
      }
      expect(
        await store.images.resolve('example.com/interop/multi:1', { os: 'linux', architecture: 'riscv64' }),
      ).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
