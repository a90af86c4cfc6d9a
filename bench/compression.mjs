#!/usr/bin/env node
// Push benchmark by layer compression: the shared big-context image (20,000 small files ~80 MB, one 200 MB random
// file, on busybox) built once, then pushed to a fresh registry by tsbuild with compression=gzip and with
// compression=zstd, and by `docker push` (dockerd 20.10, gzip) of the same build, in turn in each round so a shared
// machine's load falls on all alike. tsbuild's compressed/ records are removed before each push, so every push
// compresses its layers (as docker push does to a registry it has not pushed to). Medians of BENCH_N (default 3),
// the ratio zstd/gzip (target ≤ 0.5) and sizes pushed.
//   npm run bench:compression        env: BENCH_N, BENCH_TOOLS=gzip,zstd,docker, BENCH_SHARED
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startRegistry } from './lib/registry.mjs';
import { seedBusybox, startDockerd } from './lib/dockerd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const dist = (p) => pathToFileURL(join(repo, 'dist', p)).href;

// ---- child mode: one push from the store, then its time, size pushed and peak RSS as JSON on stdout ----
if (process.argv[2] === '--child') {
  const [root, name, ref, host, type] = process.argv.slice(3);
  const rc = await import(dist('registry-client/api.js'));
  const { parseReference } = await import(dist('oci/reference.js'));
  const { openStore, registryView } = await import(dist('store/index.js'));
  const store = await openStore(root);
  const rec = await store.images.resolve(name);
  const desc = {
    mediaType: rec.manifestMediaType,
    digest: rec.manifestDigest,
    size: await store.blobs.size(rec.manifestDigest),
  };
  let bytes = 0;
  const t0 = performance.now();
  await rc.pushImage(registryView(store), desc, [parseReference(ref)], {
    insecure: [host],
    output: { compression: { type } },
    onProgress: (p) => {
      if (p.kind === 'blob' && p.action === 'done') bytes += p.size;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  process.stdout.write(
    JSON.stringify({ seconds, bytes, rssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n',
  );
  process.exit(0);
}

const N = Number(process.env.BENCH_N ?? 3);
const shared = process.env.BENCH_SHARED ?? resolve(repo, '../shared/bench');
let tools = (process.env.BENCH_TOOLS ?? 'gzip,zstd,docker').split(',').filter(Boolean);
if (!existsSync(join(repo, 'dist/bundle/main.cjs'))) {
  console.error('bench: run `npm run build` first');
  process.exit(2);
}
// a name of its own, not tsbuild-*: once a docker push here failed with dockerd's overlay files gone from under it
const work = await mkdtemp(join(process.env.BENCH_WORK ?? tmpdir(), 'bench-compression-'));
const TSBUILD = join(repo, 'bin/tsbuild');
const root = join(work, 'store');
const stops = [];
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

try {
  const seed = await startRegistry(work);
  stops.push(seed.stop);
  await seedBusybox(work, TSBUILD, root, seed.host);
  const ctx = join(work, 'ctx');
  await mkdir(ctx);
  sh('sh', [join(shared, 'workloads/big-context/gen.sh')], { cwd: ctx });
  const buildfile = (await readFile(join(shared, 'workloads/big-context/Buildfile'), 'utf8')).replace(
    /^FROM \S+/m,
    `FROM ${seed.host}/library/busybox:latest`,
  );
  await writeFile(join(ctx, 'Buildfile'), buildfile);
  sh(TSBUILD, ['--root', root, 'build', '-q', '--insecure-registry', seed.host, '-t', 'bench/big:1', ctx]);

  let dockerEnv;
  if (tools.includes('docker')) {
    const d = await startDockerd(work);
    if (d) stops.push(d.stop);
    dockerEnv = d?.env;
    if (!dockerEnv) {
      console.log('bench: docker push skipped (no /usr/sbin/dockerd: apt-get install -y docker.io)');
      tools = tools.filter((t) => t !== 'docker');
    } else {
      await copyFile(join(ctx, 'Buildfile'), join(ctx, 'Dockerfile'));
      sh('/usr/bin/docker', ['build', '-q', '--network', 'host', '-t', 'bench/big:1', ctx], {
        env: { ...dockerEnv, DOCKER_BUILDKIT: '1' },
      });
    }
  }

  console.log(`bench/compression: push of the big-context image to a fresh registry, ${tools.join(' / ')}, N=${N}`);
  const runs = Object.fromEntries(tools.map((t) => [t, []]));
  for (let i = 0; i < N; i++) {
    for (const t of tools) {
      const reg = await startRegistry(work);
      const ref = `${reg.host}/bench/big:${t}`;
      let r;
      if (t === 'docker') {
        sh('/usr/bin/docker', ['tag', 'bench/big:1', ref], { env: dockerEnv });
        const t0 = performance.now();
        sh('/usr/bin/docker', ['push', ref], { env: dockerEnv });
        r = { seconds: (performance.now() - t0) / 1000 };
        sh('/usr/bin/docker', ['rmi', ref], { env: dockerEnv });
      } else {
        for (const f of await readdir(join(root, 'compressed')).catch(() => []))
          await rm(join(root, 'compressed', f), { force: true });
        const c = spawnSync(
          process.execPath,
          [fileURLToPath(import.meta.url), '--child', root, 'bench/big:1', ref, reg.host, t],
          {
            encoding: 'utf8',
          },
        );
        if (c.status !== 0) throw new Error(`tsbuild push (${t}) failed: ${c.stderr}`);
        r = JSON.parse(c.stdout.trim().split('\n').pop());
      }
      await reg.stop();
      runs[t].push(r);
      console.log(
        `  round ${i + 1} ${t.padEnd(6)} ${r.seconds.toFixed(2)} s${r.bytes ? `  ${(r.bytes / 1e6).toFixed(1)} MB pushed` : ''}${r.rssMB ? `  peak RSS ${r.rssMB} MB` : ''}`,
      );
    }
  }
  const med = Object.fromEntries(tools.map((t) => [t, median(runs[t].map((r) => r.seconds))]));
  console.log(`\n| push (fresh registry) | median s | min s | max s | MB pushed |`);
  console.log('|---|---|---|---|---|');
  for (const t of tools) {
    const s = runs[t].map((r) => r.seconds);
    const mb = runs[t][0].bytes ? (runs[t][0].bytes / 1e6).toFixed(1) : '—';
    const label = t === 'docker' ? 'docker push (gzip)' : `tsbuild compression=${t}`;
    console.log(
      `| ${label} | ${med[t].toFixed(2)} | ${Math.min(...s).toFixed(2)} | ${Math.max(...s).toFixed(2)} | ${mb} |`,
    );
  }
  if (med.gzip && med.zstd) console.log(`\nzstd / gzip: ${(med.zstd / med.gzip).toFixed(2)}× (target ≤ 0.5×)`);
  if (med.docker && med.zstd) console.log(`zstd / docker push: ${(med.zstd / med.docker).toFixed(2)}×`);
  if (med.docker && med.gzip) console.log(`gzip / docker push: ${(med.gzip / med.docker).toFixed(2)}×`);
} finally {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
