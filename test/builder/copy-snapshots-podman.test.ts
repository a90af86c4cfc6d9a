// Copy snapshots inside an unprivileged container (issue 16): `podman run` without --privileged, podman's default
// capabilities (no CAP_SYS_ADMIN, no CAP_MKNOD), root in the container, under podman's default seccomp profile and
// under one that also denies user namespaces (Kubernetes' RuntimeDefault case). The container's root is the host's
// (`--rootfs /:O`, an overlay over it: the checkout, Node and a C compiler for the helper are there); the store and
// the context are host directories bound in. The build (RUN writes, a whiteout, hard links, an opaque directory,
// COPY, a secret) is pushed to the test registry and must be the image a root overlay build on the host pushes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { BIN, events, ok, stepResults, type Tsb } from './helpers/tsb.js';
import { COPY_BUILDFILE } from './helpers/copy-buildfile.js';
import { PODMAN_ULIMITS } from '../fixtures/podman.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

const CLONE_NEWUSER = 0x10000000;

/** Allows everything but a new user namespace (unshare, clone; clone3 cannot be inspected: ENOSYS, as Docker's). */
const DENY_USERNS = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [
    {
      names: ['unshare', 'clone'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 1,
      args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }],
    },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
  ],
};

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('copy-podman'));
  const ctx = join(work, 'ctx');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Buildfile'), COPY_BUILDFILE);
  await writeFile(join(ctx, 'f.txt'), 'copied\n');
  await writeFile(join(work, 'secret'), 'sesame\n');
  await writeFile(join(work, 'deny-userns.json'), JSON.stringify(DENY_USERNS));
  const common = ['--secret', `id=s,src=${join(work, 'secret')}`, '--build-arg', 'SOURCE_DATE_EPOCH=1700000000'];
  ok(tsb(['build', '-q', ...common, '--push', '-t', `${registry.host}/copy/host:1`, ctx]), 'host overlay build');
});

afterAll(async () => {
  await closeBuildEnv({ registry, root, work });
});

function inspect(ref: string, config: boolean): Record<string, unknown> {
  const args = ['inspect', '--tls-verify=false', '--raw', ...(config ? ['--config'] : []), `docker://${ref}`];
  return JSON.parse(execFileSync('skopeo', args, { encoding: 'utf8' })) as Record<string, unknown>;
}

/** Runs the CLI in an unprivileged podman container with a store bound from the host. */
function inPodman(
  store: string,
  seccomp: string | undefined,
  args: string[],
  user?: string,
): { code: number; stderr: string } {
  const r = spawnSync(
    'podman',
    [
      'run',
      '--rm',
      '--runtime',
      'runc',
      ...PODMAN_ULIMITS,
      '--network',
      'host',
      ...(seccomp ? ['--security-opt', `seccomp=${seccomp}`] : []),
      ...(user ? ['--user', user] : []),
      '-v',
      `${store}:/store`,
      '-v',
      `${work}:/work-in:ro`,
      '-e',
      'TSBUILD_MODE=unprivileged',
      '--rootfs',
      '/:O',
      process.execPath,
      BIN,
      '--root',
      '/store',
      '--registry-mirror',
      `http://${registry.host}`,
      '--insecure-registry',
      registry.host,
      ...args,
    ],
    { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 },
  );
  return { code: r.status ?? -1, stderr: `${r.stderr}\n${r.stdout}` };
}

describe('copy snapshots in an unprivileged podman container', () => {
  it.each([
    ['the default seccomp profile', undefined, 'default'],
    ['a seccomp profile denying user namespaces', 'deny-userns.json', 'nouserns'],
  ])(
    'root inside, under %s: build, push, the host overlay build image; a rebuild is all cached',
    async (_what, profile, tag) => {
      const store = await mkdtemp(join(tmpdir(), 'tsbuild-copy-podman-store-'));
      await chmod(store, 0o700);
      try {
        const dest = `${registry.host}/copy/podman:${tag}`;
        const common = ['--secret', 'id=s,src=/work-in/secret', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000'];
        const seccomp = profile ? join(work, profile) : undefined;
        const r = inPodman(store, seccomp, [
          'build',
          '--progress=json',
          ...common,
          '--push',
          '-t',
          dest,
          '/work-in/ctx',
        ]);
        if (r.code !== 0) throw new Error(`build in podman failed (${r.code}):\n${r.stderr}`);
        // the /dev nodes could not be made (no CAP_MKNOD): said, not hidden
        expect(r.stderr).toContain('/dev/null and the other /dev nodes are plain files');
        const host = `${registry.host}/copy/host:1`;
        expect(inspect(dest, true)).toEqual(inspect(host, true));
        expect(inspect(dest, false)).toEqual(inspect(host, false));
        const again = inPodman(store, seccomp, ['build', '--progress=json', ...common, '/work-in/ctx']);
        if (again.code !== 0) throw new Error(`rebuild in podman failed (${again.code}):\n${again.stderr}`);
        const evs = events(
          again.stderr
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .join('\n'),
        );
        expect(stepResults(evs).filter((s) => !s.cached)).toEqual([]);
      } finally {
        await rm(store, { recursive: true, force: true });
      }
    },
  );

  it('as a non-root user without user namespaces: a RUN fails at once, naming what is missing', async () => {
    const store = await mkdtemp(join(tmpdir(), 'tsbuild-copy-podman-store-'));
    await chown(store, 65534, 65534);
    try {
      const ctx = join(work, 'ctx-run');
      await mkdir(ctx, { recursive: true });
      await writeFile(join(ctx, 'Buildfile'), 'FROM busybox:latest\nRUN true\n');
      const r = inPodman(store, join(work, 'deny-userns.json'), ['build', '/work-in/ctx-run'], '65534:65534');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('RUN cannot run with copy snapshots here');
      expect(r.stderr).toContain('lacks CAP_SYS_CHROOT');
    } finally {
      await rm(store, { recursive: true, force: true });
    }
  });
});
