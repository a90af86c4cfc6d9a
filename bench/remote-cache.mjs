#!/usr/bin/env node
// Remote build cache benchmark: for the shared workloads (default many-layers and big-context), the wall time of a
// cold build on an empty store versus a build on another empty store with --cache-from the registry cache that a
// third build exported (--cache-to …,mode=max), all in the same run. Medians of BENCH_N runs (default 3).
//   node bench/remote-cache.mjs [WORKLOAD...]     env: BENCH_N, BENCH_SHARED, BENCH_WORK
// The workloads build FROM localhost:5000/library/busybox: a registry answering there is used; otherwise one is
// started for the run (and stopped at the end) and seeded with ../shared/bench/setup.sh.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const shared = process.env.BENCH_SHARED ?? resolve(repo, '../shared/bench');
const work = process.env.BENCH_WORK ?? '/tmp/tsb-bench';
const N = Math.max(1, Number(process.env.BENCH_N ?? 3));
const workloads = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['many-layers', 'big-context'];
const tsbuild = join(repo, 'bin/tsbuild');
const REG = 'localhost:5000';

async function registryUp() {
  try {
    const r = await fetch(`http://${REG}/v2/`);
    return r.status === 200 || r.status === 401;
  } catch {
    return false;
  }
}

let ownRegistry;
async function ensureRegistry() {
  if (!(await registryUp())) {
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-bench-registry-'));
    writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:5000\n`);
    const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    ownRegistry = { child, dir };
    for (let i = 0; i < 100 && !(await registryUp()); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await registryUp())) throw new Error('could not start docker-registry on 127.0.0.1:5000');
  }
  const s = spawnSync('bash', [join(shared, 'setup.sh')], { env: { ...process.env, START_DOCKERD: '0' }, encoding: 'utf8' });
  if (s.status !== 0) throw new Error(`setup.sh failed: ${s.stderr}`);
}

async function stopRegistry() {
  if (!ownRegistry) return;
  const exited = new Promise((r) => ownRegistry.child.once('exit', r));
  ownRegistry.child.kill('SIGTERM');
  await exited;
  rmSync(ownRegistry.dir, { recursive: true, force: true });
}

/** A generated copy of the workload's context (gen.sh output is kept between runs under BENCH_WORK). */
function contextFor(wl) {
  const src = join(shared, 'workloads', wl);
  const dir = join(work, 'remote-cache-ctx', wl);
  mkdirSync(dir, { recursive: true });
  cpSync(join(src, 'Buildfile'), join(dir, 'Buildfile'));
  const g = spawnSync('sh', [join(src, 'gen.sh')], { cwd: dir, stdio: 'inherit' });
  if (g.status !== 0) throw new Error(`${wl}/gen.sh failed`);
  return dir;
}

function tsb(root, args, ctx) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(tsbuild, ['--root', root, 'build', '--insecure-registry', REG, '--progress', 'json', ...args, ctx], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`tsbuild ${args.join(' ')} failed (${r.status}):\n${(r.stderr || '').slice(-3000)}`);
  const events = (r.stdout + '\n' + r.stderr).split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return undefined;
    }
  }).filter(Boolean);
  const end = events.find((e) => e.type === 'build-end');
  return { secs, cached: events.filter((e) => e.type === 'step-cached').length, starts: events.filter((e) => e.type === 'step-start').length, digest: end?.manifestDigest };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  await ensureRegistry();
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
          info = `cached ${b.cached}/${b.starts} steps; same image digest as cold: ${a.digest === b.digest}`;
        } finally {
          for (const r of roots) rmSync(r, { recursive: true, force: true });
        }
      }
      const row = { wl, cold: median(cold), warm: median(warm), exportSecs, info };
      rows.push(row);
      console.log(`${wl.padEnd(12)} cold ${row.cold.toFixed(2)}s  --cache-from ${row.warm.toFixed(2)}s  (${(row.cold / row.warm).toFixed(1)}× faster; export ${exportSecs.toFixed(2)}s; ${info})`);
    }
  } finally {
    await stopRegistry();
  }
  console.log(`\nmedians of ${N} (s), each build on an empty store\n`);
  console.log('| workload | cold build | empty store + --cache-from | speed-up | cache export (all steps local) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.wl} | ${r.cold.toFixed(2)} | ${r.warm.toFixed(2)} | ${(r.cold / r.warm).toFixed(1)}× | ${r.exportSecs.toFixed(2)} |`);
  const ml = rows.find((r) => r.wl === 'many-layers');
  if (ml) console.log(`\nmany-layers target ≥ 5×: ${ml.cold / ml.warm >= 5 ? 'met' : 'NOT met'}`);
}

main().catch(async (e) => {
  console.error(`bench/remote-cache: ${e.message}`);
  await stopRegistry();
  process.exit(1);
});
