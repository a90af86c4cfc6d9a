// The multi-architecture busybox fixture is what it claims: each single-platform tag and the index's entry for
// each platform run under podman (through qemu-user-static for the foreign ones) and print their machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARCH_IMAGES, seedMultiarch, type MultiarchSeed } from '../fixtures/multiarch.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { podmanRun } from './podman.js';

let registry: RegistryFixture;
let seed: MultiarchSeed;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  seed = await seedMultiarch(registry.host);
  work = await mkdtemp(join(tmpdir(), 'tsbuild-multiarch-'));
  await chmod(work, 0o755);
});
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('multiarch fixture', () => {
  it('pushes an OCI index of the three platforms with their configs', () => {
    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${seed.index}`], {
      encoding: 'utf8',
    });
    const index = JSON.parse(raw) as { mediaType: string; manifests: { platform: Record<string, string> }[] };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((m) => Object.values(m.platform).join('/'))).toEqual(
      ARCH_IMAGES.map((a) => [a.os, a.architecture, ...(a.variant ? [a.variant] : [])].join('/')),
    );
    for (const a of ARCH_IMAGES) {
      const cfg = JSON.parse(
        execFileSync(
          'skopeo',
          ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${seed.single[a.tag]}`],
          {
            encoding: 'utf8',
          },
        ),
      ) as { architecture: string; variant?: string };
      expect([cfg.architecture, cfg.variant]).toEqual([a.architecture, a.variant]);
    }
  });

  for (const a of ARCH_IMAGES)
    it(`${a.platform} runs under podman and prints ${a.uname}`, () => {
      expect(podmanRun(work, seed.single[a.tag]!, a.platform, ['uname', '-m']).trim()).toBe(a.uname);
      expect(podmanRun(work, seed.index, a.platform, ['uname', '-m']).trim()).toBe(a.uname);
    });
});
