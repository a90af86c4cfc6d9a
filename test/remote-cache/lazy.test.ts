// Lazy blobs end to end, with the real CLI and real registries: a build whose steps all hit the registry cache (or
// that never runs a command on its base image) records those layers with their registry as the source instead of
// downloading them; `run`, `save` and `push` then fetch them, or mount them registry-side without any transfer.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../store/index.js';
import { seedBusybox } from '../fixtures/images.js';
import { startRegistry } from '../fixtures/registry.js';
import { BIN, build, manifestDigest, seededRegistry, steps, tempDirs, writeContext } from './helpers.js';

const run = promisify(execFile);
const tmp = tempDirs();
// A docker-registry of this file's own, seeded with busybox (registry.base), stopped with the temp dirs at the end.
const registry = seededRegistry(tmp);

const tsb = (root: string, args: string[]) =>
  spawnSync(BIN, ['--root', root, ...args], { encoding: 'utf8', timeout: 300_000 });

/** The image's layer digests, and which of them have their bytes in the store's blobs/ (as opposed to lazy records). */
async function layerState(
  root: string,
  image: string,
): Promise<{ layers: string[]; downloaded: string[]; lazy: string[] }> {
  const store = await openStore(root);
  try {
    const rec = await store.images.resolve(image);
    if (!rec) throw new Error(`${image} is not in ${root}`);
    const layers = rec.manifest.layers.map((l) => l.digest);
    const downloaded = layers.filter((d) => existsSync(store.blobs.path(d)));
    const lazy: string[] = [];
    for (const d of layers) if (await store.blobs.lazySource(d)) lazy.push(d);
    return { layers, downloaded, lazy };
  } finally {
    await store.close();
  }
}

const buildfile = (): string =>
  [`FROM ${registry.base}`, 'COPY a.txt /a.txt', 'RUN cat /a.txt > /copy-a', 'CMD ["cat", "/copy-a"]', ''].join('\n');
const ourMounts = (): string[] =>
  spawnSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes('tsbuild'));

describe('a build that takes every step from a registry cache', () => {
  let rootB: string;
  const cacheRef = (): string => `${registry.host}/lazy/app:buildcache`;

  it('downloads no layer: the base and the cached layers are recorded with their registry as the source', async () => {
    const ctx = await writeContext(await tmp.make(), { Buildfile: buildfile(), 'a.txt': 'alpha\n' });
    const a = build(await tmp.make(), registry.host, ['--cache-to', `type=registry,ref=${cacheRef()}`, ctx]);
    rootB = await tmp.make();
    const b = build(rootB, registry.host, ['--cache-from', `type=registry,ref=${cacheRef()}`, '-t', 'app:lazy', ctx]);
    expect(steps(b).every((s) => s.startsWith('CACHED'))).toBe(true);
    expect(manifestDigest(b)).toBe(manifestDigest(a));
    const st = await layerState(rootB, 'app:lazy');
    expect(st.layers).toHaveLength(3); // busybox, COPY, RUN
    expect(st.downloaded).toEqual([]);
    expect(st.lazy).toEqual(st.layers);
    // Every blob in the store is small JSON (manifests, configs): no layer bytes travelled.
    for (const hex of await readdir(join(rootB, 'blobs', 'sha256'))) {
      const text = await readFile(join(rootB, 'blobs', 'sha256', hex), 'utf8');
      expect(() => JSON.parse(text), hex).not.toThrow();
    }
    const v = tsb(rootB, ['store', 'verify']);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/3 layer blob\(s\) recorded with their registry source, not downloaded yet\): ok/);
  });

  it('a push to another repository of the same registry mounts every layer: still nothing downloaded', async () => {
    const dest = `${registry.host}/lazy/pushed:1`;
    const p = tsb(rootB, ['--insecure-registry', registry.host, 'push', '--progress', 'json', 'app:lazy', dest]);
    expect(p.status, p.stderr).toBe(0);
    const events = `${p.stdout}\n${p.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { kind: string; action: string });
    const blobActions = events
      .filter((e) => e.kind === 'blob' && ['mount', 'done', 'exists'].includes(e.action))
      .map((e) => e.action);
    // Three layers mounted from the repositories they were recorded from; the config is a small upload.
    expect(blobActions.filter((a) => a === 'mount')).toHaveLength(3);
    expect((await layerState(rootB, 'app:lazy')).downloaded).toEqual([]);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${dest}`], { encoding: 'utf8' });
    expect((JSON.parse(stdout) as { Layers: string[] }).Layers).toHaveLength(3);
  });

  it('tsbuild run fetches the layers it needs (without any registry flag: the source is recorded) and runs', async () => {
    const r = tsb(rootB, ['run', 'app:lazy']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('alpha\n');
    const st = await layerState(rootB, 'app:lazy');
    expect(st.downloaded).toEqual(st.layers);
    const v = tsb(rootB, ['store', 'verify']);
    expect(v.status, v.stdout).toBe(0);
    expect(v.stdout).not.toMatch(/not downloaded yet/);
  });
});

describe('a source that is gone', () => {
  it('is a clear error naming the blob and where it was to come from; nothing stays mounted; prune drops the records', async () => {
    const reg2 = await startRegistry();
    const root = await tmp.make();
    let stopped = false;
    try {
      const base2 = await seedBusybox(reg2.host);
      const ctx = await writeContext(await tmp.make(), { Buildfile: `FROM ${base2}\nCMD ["true"]\n` });
      build(root, reg2.host, ['-t', 'gone:1', ctx]);
      expect((await layerState(root, 'gone:1')).downloaded).toEqual([]);
      await reg2.stop();
      stopped = true;
      const r = tsb(root, ['run', 'gone:1']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /blob sha256:[0-9a-f]{64} was recorded without being downloaded, and fetching it failed/,
      );
      expect(r.stderr).toContain(`http://${reg2.host}/v2/library/busybox/blobs/sha256:`);
      expect(ourMounts()).toEqual([]);
      const v = tsb(root, ['store', 'verify']);
      expect(v.status, v.stdout).toBe(0);

      // The base image (tagged by the build's pull) still names the layer: its record stays until both go.
      expect(tsb(root, ['rmi', 'gone:1']).status).toBe(0);
      expect(tsb(root, ['prune']).stdout).toMatch(/ 0 lazy blob records/);
      expect(tsb(root, ['rmi', base2]).status).toBe(0);
      const p = tsb(root, ['prune']);
      expect(p.status, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/1 lazy blob records/);
      expect(await readdir(join(root, 'lazy'))).toEqual([]);
    } finally {
      if (!stopped) await reg2.stop();
    }
  });
});

describe("a build that never reads its base image's filesystem", () => {
  it('does not download the base layers (a COPY or RUN would); save fetches them and writes a complete archive', async () => {
    const root = await tmp.make();
    const ctx = await writeContext(await tmp.make(), {
      Buildfile: `FROM ${registry.base}\nENV MODE=prod\nLABEL team=ci\nCMD ["cat", "/etc/passwd"]\n`,
    });
    build(root, registry.host, ['-t', 'meta-only:1', ctx]);
    const st = await layerState(root, 'meta-only:1');
    expect(st.layers).toHaveLength(1);
    expect(st.downloaded).toEqual([]);
    const out = join(await tmp.make(), 'img.tar');
    const s = tsb(root, ['save', 'meta-only:1', '-o', out]);
    expect(s.status, s.stderr).toBe(0);
    const { stdout } = await run('skopeo', ['inspect', `oci-archive:${out}`], { encoding: 'utf8' });
    const info = JSON.parse(stdout) as { Layers: string[]; Labels: Record<string, string> };
    expect(info.Layers).toEqual(st.layers);
    expect(info.Labels).toEqual({ team: 'ci' });
    expect((await layerState(root, 'meta-only:1')).downloaded).toEqual(st.layers);
  });

  it('a plain `tsbuild pull` of the base then downloads what the build only recorded', async () => {
    const root = await tmp.make();
    const ctx = await writeContext(await tmp.make(), { Buildfile: `FROM ${registry.base}\nLABEL a=b\n` });
    build(root, registry.host, ['-t', 'meta-only:2', ctx]);
    expect((await layerState(root, registry.base)).downloaded).toEqual([]);
    const p = tsb(root, ['--insecure-registry', registry.host, 'pull', '--progress', 'quiet', registry.base]);
    expect(p.status, p.stderr).toBe(0);
    const st = await layerState(root, registry.base);
    expect(st.downloaded).toEqual(st.layers);
  });
});
