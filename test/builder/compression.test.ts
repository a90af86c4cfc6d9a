// Layer compression on output (`--output compression=gzip|zstd|uncompressed`, `compression-level=`,
// `force-compression=`, `oci-mediatypes=`), as buildx: pushes checked by skopeo (which verifies every digest it
// copies) and by the zstd CLI against the config's diff_ids; archives gzip by default; a zstd base image pulled,
// unpacked and built on; `tsbuild load` of an archive with zstd layers.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType, type ImageConfigFile, type ImageManifest } from '../../oci/types.js';
import { hostPlatform } from '../../oci/platform.js';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';
import { DEFAULT_PATH, initLayout, skopeoCopy, writeBlob, writeImage, writeIndex } from '../fixtures/images.js';
import type { RegistryFixture } from '../fixtures/registry.js';
import { seedBusyboxBase } from './helpers/base.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, tsbFor, type Tsb } from './helpers/tsb.js';
import { PODMAN_ULIMITS } from '../fixtures/podman.js';

const run = promisify(execFile);
let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
let ctx: string;

/** busybox, and the same image with its layer recompressed to zstd by skopeo (library/busyboxz). */
async function seed(host: string): Promise<void> {
  await seedBusyboxBase(host);
  // busybox plus a file of its own (so that no registry or cache holds a gzip of the same layer that skopeo would
  // reuse), as an uncompressed layout that skopeo compresses to zstd on the way in
  const rootfs = await makeBusyboxRootfs();
  const layout = await mkdtemp(join(tmpdir(), 'tsbuild-busyboxz-'));
  try {
    await chmod(rootfs, 0o755);
    await writeFile(join(rootfs, 'zstd-base'), 'z\n');
    await initLayout(layout);
    const { stdout: tar } = await run('tar', ['--sort=name', '--owner=0', '--group=0', '-C', rootfs, '-cf', '-', '.'], {
      encoding: 'buffer',
      maxBuffer: 256 << 20,
    });
    const layer = await writeBlob(layout, tar, MediaType.OciLayer);
    const m = await writeImage(
      layout,
      [{ descriptor: layer, diffID: layer.digest }],
      { Env: [DEFAULT_PATH] },
      hostPlatform(),
    );
    await writeIndex(layout, [{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${host}/library/busyboxz:latest`, [
      '--dest-tls-verify=false',
      '--dest-compress',
      '--dest-compress-format=zstd',
    ]);
  } finally {
    await rm(layout, { recursive: true, force: true });
    await rm(rootfs, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('compression', seed));
  ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Buildfile'), 'FROM busybox\nRUN echo built > /built.txt\nCMD ["cat", "/built.txt"]\n');
});
afterAll(() => closeBuildEnv({ registry, root, work }));

async function rawManifest(ref: string): Promise<ImageManifest> {
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(stdout) as ImageManifest;
}

/** skopeo copies the image to a dir (checking each blob's digest); each layer decompresses to its diff_id. */
async function checkPulled(ref: string): Promise<{ manifest: ImageManifest; kinds: string[] }> {
  const dir = join(work, `copy-${Math.random().toString(36).slice(2)}`);
  await skopeoCopy(`docker://${ref}`, `dir:${dir}`, ['--src-tls-verify=false']);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
  const config = JSON.parse(await readFile(join(dir, manifest.config.digest.slice(7)), 'utf8')) as ImageConfigFile;
  const kinds: string[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    const path = join(dir, l.digest.slice(7));
    const kind = l.mediaType.endsWith('zstd') ? 'zstd' : l.mediaType.endsWith('gzip') ? 'gzip' : 'tar';
    kinds.push(kind);
    const tool = kind === 'zstd' ? ['zstd', '-dc', path] : kind === 'gzip' ? ['gzip', '-dc', path] : ['cat', path];
    const { stdout } = await run(tool[0]!, tool.slice(1), { encoding: 'buffer', maxBuffer: 256 << 20 });
    const diffID = `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
    expect(diffID, `layer ${i} (${l.mediaType})`).toBe(config.rootfs.diff_ids[i]);
    // the blob is what its media type says
    const head = (await readFile(path)).subarray(0, 4).toString('hex');
    if (kind === 'zstd') expect(head).toBe('28b52ffd');
    if (kind === 'gzip') expect(head.slice(0, 4)).toBe('1f8b');
  }
  return { manifest, kinds };
}

describe('layer compression on output', () => {
  it('pushes the built layer in zstd (base layers keep their gzip), and the store remembers the zstd blob', async () => {
    const ref = `${registry.host}/comp/zstd:1`;
    ok(tsb(['build', '-q', '-t', ref, '--push', '-o', 'type=image,compression=zstd', ctx]), 'zstd push');
    const { manifest, kinds } = await checkPulled(ref);
    expect(manifest.mediaType).toBe(MediaType.OciManifest);
    expect(kinds).toEqual(['gzip', 'zstd']);
    expect(manifest.layers[1]!.mediaType).toBe(MediaType.OciLayerZstd);
    const records = await readdir(join(root, 'compressed'));
    expect(records.some((n) => n.endsWith('.zstd'))).toBe(true);
    // podman pulls and runs it
    const podman = ['run', '--rm', '--tls-verify=false', '--runtime', 'runc', ...PODMAN_ULIMITS];
    const { stdout } = await run('podman', [...podman, '--network', 'none', ref]).finally(() =>
      run('podman', ['rmi', '--force', ref]).catch(() => undefined),
    );
    expect(stdout).toBe('built\n');
  });

  it('force-compression=true recompresses the base image layers too; a second push makes nothing again', async () => {
    const ref = `${registry.host}/comp/force:1`;
    ok(
      tsb(['build', '-q', '-t', ref, '--push', '-o', 'type=image,compression=zstd,force-compression=true', ctx]),
      'forced zstd push',
    );
    const { manifest, kinds } = await checkPulled(ref);
    expect(kinds).toEqual(['zstd', 'zstd']);
    const blobs = (await readdir(join(root, 'blobs', 'sha256'))).length;
    const ref2 = `${registry.host}/comp/force:2`;
    ok(
      tsb(['build', '-q', '-t', ref2, '--push', '-o', 'type=image,compression=zstd,force-compression=true', ctx]),
      'second push',
    );
    expect((await rawManifest(ref2)).layers).toEqual(manifest.layers);
    expect((await readdir(join(root, 'blobs', 'sha256'))).length).toBe(blobs);
  });

  it('compression=uncompressed pushes tar layers; oci-mediatypes=false pushes Docker media types', async () => {
    const ref = `${registry.host}/comp/plain:1`;
    ok(
      tsb([
        'build',
        '-q',
        '-t',
        ref,
        '--push',
        '-o',
        'type=image,compression=uncompressed,force-compression=true',
        ctx,
      ]),
      'uncompressed push',
    );
    const plain = await checkPulled(ref);
    expect(plain.kinds).toEqual(['tar', 'tar']);
    expect(plain.manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayer, MediaType.OciLayer]);

    const dref = `${registry.host}/comp/docker:1`;
    ok(tsb(['build', '-q', '-t', dref, '--push', '-o', 'type=image,oci-mediatypes=false', ctx]), 'docker types');
    const raw = await rawManifest(dref);
    expect(raw.mediaType).toBe(MediaType.DockerManifest);
    expect(raw.config.mediaType).toBe(MediaType.DockerConfig);
    expect(raw.layers.map((l) => l.mediaType)).toEqual([MediaType.DockerLayerGzip, MediaType.DockerLayerGzip]);
    await checkPulled(dref);
  });

  it('zstd with oci-mediatypes=false warns and pushes OCI media types, as BuildKit', async () => {
    const ref = `${registry.host}/comp/zstd-docker:1`;
    const r = tsb([
      'build',
      '-t',
      ref,
      '--push',
      '--progress=plain',
      '-o',
      'type=image,compression=zstd,oci-mediatypes=false',
      ctx,
    ]);
    ok(r, 'zstd + docker types');
    expect(r.stderr).toMatch(/forcibly turning on oci-mediatypes/);
    const raw = await rawManifest(ref);
    expect(raw.mediaType).toBe(MediaType.OciManifest);
    expect(raw.layers[1]!.mediaType).toBe(MediaType.OciLayerZstd);
  });

  it('-o type=oci writes gzip layers by default, zstd when asked; tsbuild load reads the zstd archive back', async () => {
    const layersOf = async (tar: string): Promise<ImageManifest> => {
      const dir = join(work, `oci-${Math.random().toString(36).slice(2)}`);
      await mkdir(dir);
      await run('tar', ['-C', dir, '-xf', tar]);
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      return JSON.parse(
        await readFile(join(dir, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
      ) as ImageManifest;
    };
    const gz = join(work, 'gz.oci.tar');
    ok(tsb(['build', '-q', '-o', `type=oci,dest=${gz}`, ctx]), 'oci archive');
    expect((await layersOf(gz)).layers.map((l) => l.mediaType)).toEqual([
      MediaType.OciLayerGzip,
      MediaType.OciLayerGzip,
    ]);

    const zst = join(work, 'zstd.oci.tar');
    ok(tsb(['build', '-q', '-o', `type=oci,dest=${zst},compression=zstd,force-compression=true`, ctx]), 'zstd archive');
    expect((await layersOf(zst)).layers.map((l) => l.mediaType)).toEqual([
      MediaType.OciLayerZstd,
      MediaType.OciLayerZstd,
    ]);
    // a fresh store loads it: both zstd layers are verified and unpacked
    const fresh = tsbFor(join(work, 'fresh-root'), registry.host);
    const loaded = fresh(['load', '-i', zst]);
    ok(loaded, 'load');
    const id = /Loaded image: (\S+)/.exec(loaded.stdout)![1]!;
    const r = fresh(['run', id]);
    ok(r, 'run');
    expect(r.stdout).toBe('built\n');

    const plain = join(work, 'plain.oci.tar');
    ok(tsb(['build', '-q', '-o', `type=oci,dest=${plain},compression=uncompressed`, ctx]), 'uncompressed archive');
    // the base layer keeps its gzip (no force-compression); the built one stays a tar
    expect((await layersOf(plain)).layers.map((l) => l.mediaType)).toEqual([
      MediaType.OciLayerGzip,
      MediaType.OciLayer,
    ]);
  });

  it('builds FROM a base image whose layers are zstd', async () => {
    const base = await rawManifest(`${registry.host}/library/busyboxz:latest`);
    expect(base.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayerZstd]);
    const dir = join(work, 'zbase');
    return mkdir(dir, { recursive: true })
      .then(() =>
        writeFile(join(dir, 'Buildfile'), 'FROM busyboxz\nRUN echo on-zstd > /z.txt\nCMD ["cat", "/z.txt"]\n'),
      )
      .then(() => {
        ok(tsb(['build', '-q', '-t', 'zbase:1', dir]), 'build on zstd base');
        const r = tsb(['run', 'zbase:1']);
        ok(r, 'run');
        expect(r.stdout).toBe('on-zstd\n');
      });
  });

  it('pushes layers taken from a registry cache in zstd too (not the gzip blobs the cache holds)', async () => {
    const cache = `${registry.host}/comp/cache:1`;
    ok(tsb(['build', '-q', '--cache-to', `type=registry,ref=${cache}`, ctx]), 'cache export');
    const fresh = tsbFor(join(work, 'cache-root'), registry.host);
    const ref = `${registry.host}/comp/from-cache:1`;
    const r = fresh([
      'build',
      '--progress=plain',
      '--cache-from',
      `type=registry,ref=${cache}`,
      '-t',
      ref,
      '--push',
      '-o',
      'type=image,compression=zstd',
      ctx,
    ]);
    ok(r, 'build from the cache, zstd push');
    expect(r.stderr).toMatch(/RUN echo built.*CACHED|CACHED.*RUN echo built/);
    const { kinds } = await checkPulled(ref);
    expect(kinds).toEqual(['gzip', 'zstd']);
  });

  it('prune keeps the zstd twin of a kept layer, and drops it with the layer', async () => {
    const own = tsbFor(join(work, 'prune-root'), registry.host);
    const ref = `${registry.host}/comp/prune:1`;
    ok(own(['build', '-q', '-t', ref, '--push', '-o', 'type=image,compression=zstd', ctx]), 'push');
    const dir = join(own.root, 'compressed');
    const records = (await readdir(dir)).filter((n) => n.endsWith('.zstd'));
    expect(records).toHaveLength(1);
    const blob = join(own.root, 'blobs', 'sha256', (await readFile(join(dir, records[0]!), 'utf8')).trim().slice(7));
    ok(own(['prune']), 'prune');
    expect(await readFile(blob).then(() => true)).toBe(true);
    ok(own(['rmi', ref]), 'rmi');
    ok(own(['prune']), 'prune after rmi');
    expect((await readdir(dir)).filter((n) => n.endsWith('.zstd'))).toEqual([]);
    await expect(readFile(blob)).rejects.toThrow(/ENOENT/);
  });

  it('refuses compression keys on outputs that write files (exit 2)', () => {
    const r = tsb(['build', '-q', '-o', `type=local,dest=${join(work, 'out')},compression=zstd`, ctx]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/compression= is not supported for type=local/);
  });
});
