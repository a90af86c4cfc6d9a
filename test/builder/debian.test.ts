// The realistic CI workload: samples/debian-app on a Debian bookworm base (debootstrap, cached per day), with
// apt-get reaching Debian's mirror from a RUN step; the result runs under tsbuild and, pushed, under podman.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { seedDebian } from './helpers/debian.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, REPO, type Tsb } from './helpers/tsb.js';
import { PODMAN_ULIMITS, podmanStorage } from '../fixtures/podman.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('debian', seedDebian));
}, 1_800_000);

afterAll(() => closeBuildEnv({ registry, root, work }));

describe('debian-app sample', () => {
  it('installs a package with apt-get from the Debian mirror; runs under tsbuild and podman', () => {
    const dest = `${registry.host}/samples/debian-app:1`;
    const b = tsb(['build', '--progress=plain', '-t', dest, '--push', join(REPO, 'samples/debian-app')]);
    ok(b, 'build debian-app');
    const r = tsb(['run', dest]);
    ok(r, 'run debian-app');
    expect(r.stdout).toBe('Hello, world!\n');

    const common = podmanStorage(work);
    execFileSync('podman', [...common, 'pull', '-q', '--tls-verify=false', dest], { stdio: 'pipe' });
    const out = execFileSync('podman', [...common, 'run', '--rm', '--network', 'host', ...PODMAN_ULIMITS, dest], {
      encoding: 'utf8',
    });
    spawnSync('podman', [...common, 'rmi', '-af'], { stdio: 'ignore' });
    expect(out).toBe('Hello, world!\n');
  }, 900_000);
});
