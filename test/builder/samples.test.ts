// End to end with everything real: each sample builds from a busybox base served by a real registry (used as the
// docker.io mirror), `tsbuild run` prints what the sample promises, and a pushed image runs the same under podman.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, REPO, stepResults, type Tsb } from './helpers/tsb.js';
import { PODMAN_ULIMITS, podmanStorage } from '../fixtures/podman.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('samples'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

const sample = (name: string): string => join(REPO, 'samples', name);

function podmanRun(image: string): string {
  const common = podmanStorage(work);
  execFileSync('podman', [...common, 'pull', '-q', '--tls-verify=false', image], { stdio: 'pipe' });
  const out = execFileSync('podman', [...common, 'run', '--rm', '--network', 'host', ...PODMAN_ULIMITS, image], {
    encoding: 'utf8',
  });
  spawnSync('podman', [...common, 'rmi', '-af'], { stdio: 'ignore' });
  return out;
}

describe('samples', () => {
  it('hello builds, runs, and runs the same under podman after a push', () => {
    const b = tsb(['build', '--progress=plain', '-t', 'hello:1', sample('hello')]);
    ok(b, 'build hello');
    expect(b.stderr).toMatch(/\[stage-0 4\/8\] COPY hello.sh \/app\/hello.sh/);
    const r = tsb(['run', 'hello:1']);
    ok(r, 'run hello');
    expect(r.stdout).toContain('Hello from tsbuild');
    expect(r.stdout).toMatch(/I run as 65534 in \/app; built on /);

    const dest = `${registry.host}/samples/hello:1`;
    ok(tsb(['build', '--progress=plain', '--push', '-t', dest, sample('hello')]), 'push hello');
    expect(podmanRun(dest)).toBe(r.stdout);
  });

  it('--isolation pivot builds the same image as the default chroot isolation', () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const chroot = tsb(['build', '-q', '--no-cache', '-t', 'hello:chroot', sample('hello')], { env });
    ok(chroot, 'build hello (chroot)');
    const pivot = tsb(['build', '-q', '--no-cache', '--isolation', 'pivot', '-t', 'hello:pivot', sample('hello')], {
      env,
    });
    ok(pivot, 'build hello (pivot)');
    expect(pivot.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pivot.stdout.trim()).toBe(chroot.stdout.trim());
    expect(tsb(['build', '--isolation', 'jail', sample('hello')]).code).toBe(2);
  });

  it('a second build takes every step from the cache and starts no container', () => {
    ok(tsb(['build', '-q', '-t', 'hello:1', sample('hello')]), 'first build');
    const b = tsb(['build', '--progress=json', '-t', 'hello:1', sample('hello')]);
    ok(b, 'second build');
    const steps = stepResults(events(b.stderr));
    expect(steps.length).toBe(8);
    expect(steps.filter((s) => !s.cached)).toEqual([]);
    // a cached RUN prints nothing: no container ran
    expect(events(b.stderr).filter((e) => e.type === 'step-output')).toEqual([]);
    const plain = tsb(['build', '--progress=plain', '-t', 'hello:1', sample('hello')]);
    ok(plain, 'plain rebuild');
    expect(plain.stderr).toMatch(/^\[stage-0 3\/8\] RUN mkdir -p \/app .* CACHED$/m);
  });

  it('multistage builds the final image and --target stops at the builder stage', () => {
    const b = tsb(['build', '--progress=plain', '-t', 'ms:1', sample('multistage')]);
    ok(b, 'build multistage');
    const r = tsb(['run', 'ms:1']);
    ok(r, 'run multistage');
    expect(r.stdout).toContain('sum of squares to 5 = 55');
    expect(r.stdout).toContain('multistage sample docs');

    const t = tsb([
      'build',
      '--progress=json',
      '--target',
      'builder',
      '--build-arg',
      'COUNT=3',
      '-t',
      'ms:builder',
      sample('multistage'),
    ]);
    ok(t, 'build --target builder');
    const stages = new Set(stepResults(events(t.stderr)).map((s) => s.stage));
    expect([...stages]).toEqual(['builder']);
    const rb = tsb(['run', 'ms:builder', 'cat', '/build/report.txt']);
    expect(rb.stdout).toContain('sum of squares to 3 = 14');
  });

  it('cache-and-secrets: the cache mount persists, the secret is used but lands nowhere', async () => {
    const secret = join(work, 'token');
    await writeFile(secret, 's3cr3t-value');
    const args = ['build', '--progress=plain', '--secret', `id=token,src=${secret}`, '-t', 'cs:1'];
    ok(tsb([...args, sample('cache-and-secrets')]), 'build 1');
    ok(tsb([...args, '--no-cache', sample('cache-and-secrets')]), 'build 2');
    const r = tsb(['run', 'cs:1']);
    ok(r, 'run');
    expect(r.stdout).toContain('cache mount used 2 time(s)');
    expect(r.stdout).toContain('secret length: 12');
    expect(r.stdout.trim().split('\n').slice(-2)).toEqual(['0', '0']);
    const out = join(work, 'cs-oci.tar');
    // uncompressed: the built layers' bytes as they are, so that a leaked secret would show in the search below
    ok(
      tsb([...args, '--output', `type=oci,dest=${out},compression=uncompressed`, sample('cache-and-secrets')]),
      'oci export',
    );
    const tarBytes = await readFile(out);
    expect(tarBytes.includes(Buffer.from('s3cr3t-value'))).toBe(false);
    // the OCI archive is readable by skopeo
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${out}`], { encoding: 'utf8' })) as {
      Layers: string[];
    };
    expect(inspect.Layers.length).toBeGreaterThan(0);
  });
});
