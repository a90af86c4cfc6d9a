#!/usr/bin/env node
// Remote build cache benchmark: for the shared workloads (default many-layers and big-context), the wall time of a
// cold build on an empty store versus a build on another empty store with --cache-from the registry cache that a
// third build exported (--cache-to …,mode=max), all in the same run. Medians of BENCH_N runs (default 3).
//   node bench/remote-cache.mjs [WORKLOAD...]     env: BENCH_N, BENCH_SHARED, BENCH_WORK
// A docker-registry of its own on a free port holds the busybox base and the caches; it is stopped at the end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry as startDockerRegistry } from './lib/registry.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const shared = process.env.BENCH_SHARED ?? resolve(repo, '../shared/bench');
const work = process.env.BENCH_WORK ?? '/tmp/tsb-bench';
const N = Math.max(1, Number(process.env.BENCH_N ?? 3));
const workloads = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['many-layers', 'big-context'];
const tsbuild = join(repo, 'bin/tsbuild');
let REG = '';
let ownRegistry;
const BASE_REPO = 'tsbuild-bench/busybox:latest';

/** A registry of this run's own on a free port, seeded with a busybox base (Debian's busybox-static, via buildah). */
async function startRegistry() {
  ownRegistry = await startDockerRegistry(tmpdir());
  REG = ownRegistry.host;
  const script = `set -e
root=$(mktemp -d); mkdir -p $root/bin $root/etc $root/tmp $root/root
cp /bin/busybox $root/bin/; for c in $($root/bin/busybox --list); do [ "$c" = busybox ] || ln -sf busybox $root/bin/$c; done; chmod 1777 $root/tmp
printf 'root:x:0:0:root:/root:/bin/sh\\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\\n' > $root/etc/passwd
printf 'root:x:0:\\nnogroup:x:65534:\\n' > $root/etc/group
ctr=$(buildah from scratch); mnt=$(buildah mount $ctr); cp -a $root/. $mnt/; buildah umount $ctr >/dev/null
buildah config --cmd '["/bin/sh"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $ctr
img=$(buildah commit -q $ctr); buildah rm $ctr >/dev/null; rm -rf $root
buildah push -q --tls-verify=false $img docker://${REG}/${BASE_REPO} >/dev/null; buildah rmi $img >/dev/null`;
  const s = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  if (s.status !== 0) throw new Error(`seeding the busybox base failed: ${s.stderr}`);
}

async function stopRegistry() {
  const reg = ownRegistry;
  ownRegistry = undefined;
  await reg?.stop();
}

/** A generated copy of the workload's context (gen.sh output is kept between runs under BENCH_WORK). */
function contextFor(wl) {
  const src = join(shared, 'workloads', wl);
  const dir = join(work, 'remote-cache-ctx', wl);
  mkdirSync(dir, { recursive: true });
  // The workloads build FROM localhost:5000/library/busybox; here the base comes from this run's own registry.
  writeFileSync(
    join(dir, 'Buildfile'),
    readFileSync(join(src, 'Buildfile'), 'utf8').replaceAll(
      'localhost:5000/library/busybox:latest',
      `${REG}/${BASE_REPO}`,
    ),
  );
  const g = spawnSync('sh', [join(src, 'gen.sh')], { cwd: dir, stdio: 'inherit' });
  if (g.status !== 0) throw new Error(`${wl}/gen.sh failed`);
  return dir;
}

function tsb(root, args, ctx) {
  // Each timed build starts with the disk quiet: the previous build's store was just deleted, and its writeback would
  // otherwise land on this build's fsyncs (bench/layer.mjs does the same).
  spawnSync('sync');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    tsbuild,
    ['--root', root, 'build', '--insecure-registry', REG, '--progress', 'json', ...args, ctx],
    {
      encoding: 'utf8',
      maxBuffer: 256 << 20,
      env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
    },
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0)
    throw new Error(`tsbuild ${args.join(' ')} failed (${r.status}):\n${(r.stderr || '').slice(-3000)}`);
  const events = (r.stdout + '\n' + r.stderr)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return undefined;
      }
    })
    .filter(Boolean);
  const end = events.find((e) => e.type === 'build-end');
  return {
    secs,
    cached: events.filter((e) => e.type === 'step-cached').length,
    starts: events.filter((e) => e.type === 'step-start').length,
    digest: end?.manifestDigest,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  await startRegistry();
  const rows = [];
  try {
    for (const wl of workloads) {
      const ctx = contextFor(wl);
      const cold = [];
      const warm = [];
      let exportSecs = 0;
      let info = '';
      for (let i = 0; i < N; i++) {
        const tag = `${wl}-${process.pid}-${i}`;
        const ref = `type=registry,ref=${REG}/bench/remote-cache:${tag}`;
        const roots = [0, 1].map(() => mkdtempSync(join(work, 'remote-cache-store-')));
        try {
          const a = tsb(roots[0], [], ctx);
          cold.push(a.secs);
          // The cache the CI job before this one would have left: exported from store A (all steps already local).
          const e = tsb(roots[0], ['--cache-to', `${ref},mode=max`], ctx);
          exportSecs = e.secs;
          rmSync(roots[0], { recursive: true, force: true });
          const b = tsb(roots[1], ['--cache-from', ref], ctx);
          warm.push(b.secs);
          const blobBytes = Number(
            spawnSync('du', ['-sb', join(roots[1], 'blobs')], { encoding: 'utf8' }).stdout.split('\t')[0],
          );
          info = `cached ${b.cached}/${b.starts} steps; same image digest as cold: ${a.digest === b.digest}; blobs downloaded into the empty store: ${(blobBytes / 1024).toFixed(0)} KiB`;
        } finally {
          for (const r of roots) rmSync(r, { recursive: true, force: true });
        }
      }
      const row = { wl, cold: median(cold), warm: median(warm), exportSecs, info };
      rows.push(row);
      console.log(
        `${wl.padEnd(12)} cold ${row.cold.toFixed(2)}s  --cache-from ${row.warm.toFixed(2)}s  (${(row.cold / row.warm).toFixed(1)}× faster; export ${exportSecs.toFixed(2)}s; ${info})`,
      );
    }
  } finally {
    await stopRegistry();
  }
  console.log(`\nmedians of ${N} (s), each build on an empty store\n`);
  console.log('| workload | cold build | empty store + --cache-from | speed-up | cache export (all steps local) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.wl} | ${r.cold.toFixed(2)} | ${r.warm.toFixed(2)} | ${(r.cold / r.warm).toFixed(1)}× | ${r.exportSecs.toFixed(2)} |`,
    );
  const ml = rows.find((r) => r.wl === 'many-layers');
  if (ml) console.log(`\nmany-layers target ≥ 5×: ${ml.cold / ml.warm >= 5 ? 'met' : 'NOT met'}`);
}

main().catch(async (e) => {
  console.error(`bench/remote-cache: ${e.message}`);
  await stopRegistry();
  process.exit(1);
});
