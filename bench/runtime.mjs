// bench:runtime — the time to run /bin/true in a busybox container (mount overlay, start, exit, unmount), median
// of N runs, side by side in the same run with `buildah run --runtime runc` of the same rootfs and with the floor
// `unshare --mount --pid --uts --ipc --fork chroot ROOTFS /bin/true`. Needs root and a compiled dist/ (npm run build).
// tsbuild's runs join one default network (as the RUN steps of a build do); chroot runs on `none` and `host`, and
// the start and stop of a network (once per build), are measured beside them.
import { execFileSync, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupStaleMounts, runContainer } from '../dist/runtime/index.js';
import { createNetwork } from '../dist/runtime/network.js';

const N = Number(process.env.BENCH_RUNS ?? 50);
const WARMUP = 3;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function time(fn) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const xs = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

/** Medians of several functions run in turn (one of each per round), so the load of a shared machine hits all alike. */
async function timeEach(fns) {
  for (let i = 0; i < WARMUP; i++) for (const fn of Object.values(fns)) await fn();
  const xs = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let i = 0; i < N; i++) {
    for (const [k, fn] of Object.entries(fns)) {
      const t = performance.now();
      await fn();
      xs[k].push(performance.now() - t);
    }
  }
  return Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, median(v)]));
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`))));
  });
}

const base = await mkdtemp(join(tmpdir(), 'tsbuild-bench-runtime-'));
const rootfs = join(base, 'rootfs');
const runDir = join(base, 'run');
const buildahArgs = [
  '--root',
  join(base, 'buildah/root'),
  '--runroot',
  join(base, 'buildah/runroot'),
  '--storage-driver',
  'overlay',
];
const buildah = (...a) =>
  execFileSync('buildah', [...buildahArgs, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
let working;
let network;
try {
  network = await createNetwork();
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'dev', 'sys']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'true']) await symlink('busybox', join(rootfs, 'bin', a));

  let n = 0;
  const tsbuild =
    (isolation, mode = 'default') =>
    async () => {
      const d = join(base, `c${n++}`);
      await mkdir(join(d, 'u'), { recursive: true });
      await mkdir(join(d, 'w'));
      const r = await runContainer({
        rootfs: { lowerdirs: [rootfs], upperdir: join(d, 'u'), workdir: join(d, 'w') },
        args: ['/bin/true'],
        env: [],
        isolation,
        runDir,
        network: mode,
        ...(mode === 'default' ? { sharedNetwork: network } : {}),
      });
      if (r.exitCode !== 0) throw new Error(`tsbuild container exited ${r.exitCode ?? r.signal}`);
      await rm(d, { recursive: true, force: true });
    };

  // buildah's image is made the buildah way: from scratch + copy of the same rootfs.
  const scratch = buildah('from', 'scratch');
  buildah('copy', scratch, rootfs + '/', '/');
  buildah('commit', '-q', scratch, 'tsbuild-bench-busybox');
  buildah('rm', scratch);
  working = buildah('from', 'tsbuild-bench-busybox');

  const results = {
    ...(await timeEach({
      'tsbuild (chroot isolation)': tsbuild('chroot'),
      'tsbuild (chroot, network none)': tsbuild('chroot', 'none'),
      'tsbuild (chroot, network host)': tsbuild('chroot', 'host'),
    })),
    'tsbuild (pivot isolation)': await time(tsbuild('pivot')),
    'default network start + stop': await time(async () => (await createNetwork()).close()),
    'buildah run --runtime runc': await time(() =>
      run('buildah', [...buildahArgs, 'run', '--runtime', 'runc', working, '/bin/true']),
    ),
    'floor: unshare … chroot': await time(() =>
      run('unshare', ['--mount', '--pid', '--uts', '--ipc', '--fork', 'chroot', rootfs, '/bin/true']),
    ),
  };
  const ts = results['tsbuild (chroot isolation)'];
  const bh = results['buildah run --runtime runc'];
  const floor = results['floor: unshare … chroot'];
  console.log(`/bin/true in a busybox container, median of ${N} runs (ms):`);
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(30)} ${v.toFixed(1).padStart(7)}`);
  console.log(`ratio tsbuild/buildah: ${(ts / bh).toFixed(3)}× (target ≤ 0.05×)`);
  console.log(`ratio tsbuild/floor:   ${(ts / floor).toFixed(2)}×`);
  console.log(`ratio pivot/buildah:   ${(results['tsbuild (pivot isolation)'] / bh).toFixed(3)}×`);
} finally {
  await network?.close();
  try {
    if (working) buildah('rm', working);
    buildah('rmi', '-a', '-f');
  } catch {
    // buildah not set up
  }
  await cleanupStaleMounts(runDir);
  await rm(base, { recursive: true, force: true });
}
