// The CLI and the store end to end: `tsbuild login`, `pull` (unpacked into the store), a layer committed on top,
// `push` of the result (its layer gzipped on the way) that podman runs, `logout`.
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import { MediaType, type ImageConfigFile, type ImageManifest } from '../../oci/types.js';
import { pullImage, pushImage } from '../../registry-client/api.js';
import { openStore, putJSON, registryView } from '../../store/index.js';
import { seedBusybox, seedMultiPlatform, type MultiPlatformSeed } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startFaultProxy } from './fault-proxy.js';
import { skopeoInspect, tempDirs } from './helpers.js';
import { PODMAN_ULIMITS } from '../fixtures/podman.js';

const run = promisify(execFile);
const TSBUILD = new URL('../../bin/tsbuild', import.meta.url).pathname;

function tsbuild(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSBUILD, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('tsbuild pull/push/login/logout with the store', () => {
  let reg: RegistryFixture;
  let multi: MultiPlatformSeed;
  const tmp = tempDirs();
  let env: NodeJS.ProcessEnv;
  let root: string;
  const podmanImages: string[] = [];

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token', anonymousPull: false });
    await seedBusybox(reg.host, 'library/busybox', 'latest', { creds: 'tester:secret' });
    multi = await seedMultiPlatform(reg.host, 'test/multi', 'latest', { creds: 'tester:secret' });
    root = await tmp.make();
    env = {
      DOCKER_CONFIG: await tmp.make(),
      TSBUILD_INSECURE_REGISTRY: reg.host,
      TSBUILD_ROOT: root,
      XDG_CONFIG_HOME: await tmp.make(),
    };
  });
  afterAll(async () => {
    for (const r of podmanImages) await run('podman', ['rmi', '--force', r]).catch(() => undefined);
    await reg?.stop();
    await tmp.cleanup();
  });

  it('pull without login fails with exit 1 and a hint to log in', async () => {
    const r = await tsbuild(['pull', '--progress=plain', `${reg.host}/library/busybox:latest`], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tsbuild login ${reg.host}`);
  });

  it('login with --password-stdin, then pull shows per-layer progress with bytes/s and the image is unpacked', async () => {
    const bad = await tsbuild(['login', reg.host, '-u', 'tester', '--password-stdin'], env, 'wrong\n');
    expect(bad.code).toBe(1);
    const login = await tsbuild(['login', reg.host, '-u', 'tester', '--password-stdin'], env, 'secret\n');
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('Login Succeeded');

    const r = await tsbuild(['pull', '--progress=plain', `${reg.host}/library/busybox:latest`], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/sha256:[0-9a-f]{12}: done .* \(.*B\/s\)/);
    const store = await openStore(root);
    try {
      const rec = await store.images.resolve(`${reg.host}/library/busybox:latest`);
      expect(rec?.config.config.Cmd).toEqual(['/bin/sh']);
      expect(r.stdout).toContain(rec!.manifestDigest);
      expect(await store.layers.lowerdir(rec!.config.rootfs.diff_ids[0]!)).toBeTruthy();
    } finally {
      await store.close();
    }
  });

  it('pull --platform picks from an index; --progress=json prints one JSON event per line', async () => {
    const r = await tsbuild(
      ['pull', '--progress=json', '--no-unpack', '--platform', 'linux/arm64', `${reg.host}/test/multi:latest`],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const events = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; digest: string });
    expect(events.some((e) => e.action === 'done')).toBe(true);
    expect(JSON.parse(r.stdout.trim()).digest).toBe(multi.manifests['linux/arm64/v8']);
  });

  it('pushes an image built on top of the pulled one (uncompressed committed layer) and podman runs it', async () => {
    const store = await openStore(root);
    let manifestDigest: string;
    try {
      const base = (await store.images.resolve(`${reg.host}/library/busybox:latest`))!;
      const upper = await tmp.make();
      await mkdir(join(upper, 'etc'));
      await writeFile(join(upper, 'etc', 'greeting'), 'hello from a tsbuild layer\n');
      const layer = await store.layers.commit(upper);
      expect(layer.descriptor.mediaType).toBe(MediaType.OciLayer);
      const config: ImageConfigFile = {
        ...base.config,
        rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.diffID] },
      };
      const cfg = await putJSON(store.blobs, config, MediaType.OciConfig);
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: cfg,
        layers: [...base.manifest.layers, layer.descriptor],
      };
      const m = await putJSON(store.blobs, manifest, MediaType.OciManifest);
      await store.images.tag(`${reg.host}/app/greeting:1`, m);
      manifestDigest = m.digest;
    } finally {
      await store.close();
    }
    const r = await tsbuild(
      [
        'push',
        '--progress=plain',
        `${reg.host}/app/greeting:1`,
        `${reg.host}/app/greeting:1`,
        `${reg.host}/app/greeting:latest`,
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
    expect(pushed).not.toBe(manifestDigest);
    expect(r.stderr).toMatch(/mounted from another repository/);
    const raw = (await skopeoInspect(
      `${reg.host}/app/greeting:latest`,
      'tester:secret',
      true,
    )) as unknown as ImageManifest;
    expect(raw.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayerGzip, MediaType.OciLayerGzip]);

    const ref = `${reg.host}/app/greeting:latest`;
    podmanImages.push(ref);
    await run('podman', ['pull', '--quiet', '--tls-verify=false', '--creds', 'tester:secret', ref]);
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
      '/etc/greeting',
    ]);
    expect(stdout).toBe('hello from a tsbuild layer\n');
  });

  it('an interrupted pull into the store leaves it consistent and the next pull finishes', async () => {
    const proxy = await startFaultProxy(reg.url, reg.blobFile);
    try {
      const fresh = await openStore(await tmp.make());
      const cfg = join(env.DOCKER_CONFIG!, 'config.json');
      const { writeFile: wf, readFile } = await import('node:fs/promises');
      const proxyCfg = join(await tmp.make(), 'config.json');
      const c = JSON.parse(await readFile(cfg, 'utf8')) as { auths: Record<string, unknown> };
      await wf(proxyCfg, JSON.stringify({ auths: { [proxy.host]: c.auths[reg.host] } }));
      const raw = (await skopeoInspect(
        `${reg.host}/library/busybox:latest`,
        'tester:secret',
        true,
      )) as unknown as ImageManifest;
      proxy.faults.push({
        method: 'GET',
        path: new RegExp(`blobs/${raw.layers[0]!.digest}`),
        action: { kind: 'drop', afterBytes: 300_000 },
      });
      const ref = parseReference(`${proxy.host}/library/busybox:latest`);
      const opts = { insecure: [proxy.host], dockerConfigPath: proxyCfg, retries: 0, unpack: true };
      await expect(pullImage(ref, registryView(fresh), opts)).rejects.toThrow();
      expect(await fresh.blobs.has(raw.layers[0]!.digest)).toBe(false);
      expect(await fresh.images.resolve(`${proxy.host}/library/busybox:latest`)).toBeUndefined();
      const r = await pullImage(ref, registryView(fresh), { ...opts, retries: 3 });
      expect(await fresh.blobs.has(raw.layers[0]!.digest)).toBe(true);
      const rec = await fresh.images.resolve(r.name);
      expect((await fresh.layers.lowerdirsFor(rec!)).length).toBe(1);
      // Pushing straight back from the store works too (blobs already there: HEAD, nothing uploaded).
      const again = await pushImage(
        registryView(fresh),
        r.manifestDescriptor,
        [parseReference(`${proxy.host}/library/busybox:latest`)],
        { insecure: [proxy.host], dockerConfigPath: proxyCfg },
      );
      expect(again.digest).toBe(r.manifestDescriptor.digest);
      await fresh.close();
    } finally {
      await proxy.stop();
    }
  });

  it('logout removes the credentials', async () => {
    const r = await tsbuild(['logout', reg.host], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Removed');
    const again = await tsbuild(['pull', '--progress=quiet', `${reg.host}/library/busybox:latest`], env);
    expect(again.code).toBe(1);
  });
});
