#!/usr/bin/env node
// Multi-platform build benchmark (issue 17): the shared `multistage` workload built for linux/amd64 and
// linux/arm64 in one build, from a two-platform busybox index, by tsbuild (`--platform a,b`, one index) and by
// buildah (`build --platform a,b --manifest`), in the same run, taking turns; medians of BENCH_N runs (default 3).
// dockerd 20.10 here has no buildx and its classic store cannot build several platforms (the docker-container
// driver needs the moby/buildkit image, unreachable offline), so buildah is the peer.
//   node bench/multiplatform.mjs             env: BENCH_N, BENCH_SHARED, BENCH_WORK
// Phases: cold (empty store: the base's two platforms pulled from the local registry, no cache) and noop (rebuild,
// nothing changed). The foreign platform's RUN steps go through qemu-user-static (`.ci/install-deps`) for both.
// buildah keeps its own storage under BENCH_WORK, so the machine's buildah images are left alone.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const shared = process.env.BENCH_SHARED ?? resolve(repo, '../shared/bench');
const work = join(process.env.BENCH_WORK ?? '/tmp/tsb-bench', 'multiplatform');
const N = Number(process.env.BENCH_N ?? 3);
const TB = join(repo, 'bin/tsbuild');
const REG = 'localhost:5000';
const BASE = `${REG}/library/busybox-multi:latest`;
const PLATFORMS = 'linux/amd64,linux/arm64';
// Debian's busybox-static for arm64, as the multi-arch test fixture downloads it (test/fixtures/multiarch.ts)
const ARM64_BUSYBOX = '/var/cache/tsbuild-tests/busybox-static/arm64/bin/busybox';

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    console.error(`bench: ${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
    process.exit(1);
  }
  return r.stdout;
}

if (!existsSync(join(shared, 'setup.sh'))) {
  console.error(`bench: ${shared}/setup.sh not found (set BENCH_SHARED)`);
  process.exit(2);
}
if (!existsSync(ARM64_BUSYBOX)) {
  console.error(
    `bench: ${ARM64_BUSYBOX} missing: run \`bash .ci/install-deps\` and test/platform/multiarch-fixture.test.ts`,
  );
  process.exit(2);
}
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
sh('bash', [join(shared, 'setup.sh')], { env: { ...process.env, START_DOCKERD: '0' } });

// buildah with its own storage: the base index is made and pushed with it, and its builds use it
const bstore = join(work, 'buildah');
const buildah = (args, opts) =>
  sh('buildah', ['--root', join(bstore, 'root'), '--runroot', join(bstore, 'run'), ...args], opts);

// The base: busybox for amd64 (the host's) and arm64 under one OCI index
buildah(['manifest', 'create', 'busybox-multi']);
for (const [arch, bin] of [
  ['amd64', '/bin/busybox'],
  ['arm64', ARM64_BUSYBOX],
]) {
  const rootfs = join(work, `rootfs-${arch}`);
  for (const d of ['bin', 'etc', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  cpSync(bin, join(rootfs, 'bin/busybox'));
  const applets = sh('/bin/busybox', ['--list'])
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  sh('bash', ['-c', `cd ${rootfs}/bin && for a in ${applets.join(' ')}; do ln -sf busybox $a; done`]);
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  const ctr = buildah(['from', '--arch', arch, 'scratch']).trim();
  buildah(['copy', ctr, `${rootfs}/`, '/']);
  buildah(['config', '--arch', arch, '--os', 'linux', '--cmd', '/bin/sh', '--env', 'PATH=/usr/bin:/bin', ctr]);
  buildah(['commit', '-q', '--manifest', 'busybox-multi', ctr]);
  buildah(['rm', ctr]);
}
buildah(['manifest', 'push', '--all', '--tls-verify=false', 'busybox-multi', `docker://${BASE}`]);

const ctx = join(work, 'ctx');
mkdirSync(ctx);
cpSync(join(shared, 'workloads/multistage/Buildfile'), join(ctx, 'Buildfile'));

const tsbRoot = join(work, 'tsbuild-root');
const TOOLS = {
  tsbuild: {
    cold: () => rmSync(tsbRoot, { recursive: true, force: true }),
    build: () => [
      TB,
      [
        '--root',
        tsbRoot,
        'build',
        '--insecure-registry',
        REG,
        '--platform',
        PLATFORMS,
        '--build-arg',
        `BASE=${BASE}`,
        '-t',
        'bench/multi-platform',
        ctx,
      ],
    ],
  },
  buildah: {
    cold: () => rmSync(join(bstore, 'peer'), { recursive: true, force: true }),
    build: () => [
      'buildah',
      [
        '--root',
        join(bstore, 'peer/root'),
        '--runroot',
        join(bstore, 'peer/run'),
        'build',
        '--layers',
        '--runtime',
        'runc',
        '--tls-verify=false',
        '--platform',
        PLATFORMS,
        '--manifest',
        'bench/multi-platform',
        '--build-arg',
        `BASE=${BASE}`,
        '-f',
        join(ctx, 'Buildfile'),
        ctx,
      ],
    ],
  },
};

function timed(tool) {
  const [cmd, args] = TOOLS[tool].build();
  const t0 = process.hrtime.bigint();
  sh(cmd, args);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const times = { tsbuild: { cold: [], noop: [] }, buildah: { cold: [], noop: [] } };
for (let i = 0; i < N; i++) {
  for (const tool of Object.keys(TOOLS)) {
    TOOLS[tool].cold();
    times[tool].cold.push(timed(tool));
    times[tool].noop.push(timed(tool));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`multistage, --platform ${PLATFORMS}, N=${N}, medians in seconds (min-max)`);
for (const phase of ['cold', 'noop']) {
  const t = median(times.tsbuild[phase]);
  const b = median(times.buildah[phase]);
  const range = (xs) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
  console.log(
    `${phase.padEnd(5)} tsbuild ${t.toFixed(2)} (${range(times.tsbuild[phase])})  buildah ${b.toFixed(2)} ` +
      `(${range(times.buildah[phase])})  tsbuild/buildah ${(t / b).toFixed(2)}x`,
  );
}
rmSync(work, { recursive: true, force: true });
