// The set-up every builder test file shares: a real registry (used as the docker.io mirror) seeded with a base
// image, an empty store root, a work dir, and the CLI bound to both.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RegistryFixture } from '../../fixtures/registry.js';
import { seedBusyboxBase } from './base.js';
import { tsbFor, type Tsb } from './tsb.js';

export interface BuildTestEnv {
  registry: RegistryFixture;
  root: string;
  work: string;
  tsb: Tsb;
}

/**
 * `name` goes into the temp dir names; `seed` puts the base image into the registry (busybox by default). The work
 * dir is 0755: podman's vfs storage may live below it, and a container's non-root user must traverse it.
 */
export async function makeBuildEnv(
  name: string,
  seed: (host: string) => Promise<unknown> = seedBusyboxBase,
): Promise<BuildTestEnv> {
  const registry = await startRegistry();
  await seed(registry.host);
  const root = await mkdtemp(join(tmpdir(), `tsbuild-${name}-root-`));
  const work = await mkdtemp(join(tmpdir(), `tsbuild-${name}-work-`));
  await chmod(work, 0o755);
  return { registry, root, work, tsb: tsbFor(root, registry.host) };
}

export async function closeBuildEnv(env: Partial<BuildTestEnv>): Promise<void> {
  await env.registry?.stop();
  if (env.root) await rm(env.root, { recursive: true, force: true });
  if (env.work) await rm(env.work, { recursive: true, force: true });
}
