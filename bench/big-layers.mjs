#!/usr/bin/env node
// Big-layer benchmark (issue 18): an image with one big file (BIG_MB, default 5120 MB) and one with MANY_N files of
// MANY_MB each (default 200 × 10 MB), random (incompressible) content so gzip and zstd have work. Per image, in one
// run, each timed with /usr/bin/time (seconds and peak RSS of the process):
//   tsbuild build · push with compression=gzip and =zstd (each to a fresh registry, compressing) · push of the
//   compressed blobs to another fresh registry (a plain blob copy) beside `skopeo copy oci:DIR` of the same image ·
//   pull + unpack into an empty store (gzip and zstd) · `docker push` and `docker pull` of the same image (loaded
//   from a `-o type=docker` archive) on a registry of the same kind.
// Then the ratios against the targets: peak RSS ≤ 200 MB, push/pull ≤ 1.0× docker, blob copy ≤ 1.2× skopeo.
// The data is generated once under BENCH_WORK (default /var/tmp) and kept; everything else is removed at the end.
//   npm run bench:big-layers          env: BIG_MB, MANY_N, MANY_MB, BENCH_WORK, BENCH_IMAGES=one,many, BENCH_DOCKER=0
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from './lib/registry.mjs';
import { seedBusybox, startDockerd } from './lib/dockerd.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const TSBUILD = join(repo, 'bin/tsbuild');
const BIG_MB = Number(process.env.BIG_MB ?? 5120);
const MANY_N = Number(process.env.MANY_N ?? 200);
const MANY_MB = Number(process.env.MANY_MB ?? 10);
const base = process.env.BENCH_WORK ?? '/var/tmp';
const images = (process.env.BENCH_IMAGES ?? 'one,many').split(',').filter(Boolean);
const RSS_MB = 200;
if (!existsSync(join(repo, 'dist/bundle/main.cjs'))) {
  console.error('bench: run `npm run build` first');
  process.exit(2);
}

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
/** Runs a command under /usr/bin/time: its seconds and peak RSS in MB. */
function timed(cmd, args, env = process.env) {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], { encoding: 'utf8', env });
  const m = /TIME (\S+) (\d+)\s*$/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return { seconds: Number(m[1]), rssMB: Math.round(Number(m[2]) / 1024) };
}
/** Incompressible bytes (AES-CTR of zeros: as fast as the disk), `mb` MiB of them, into `file`. */
function random(file, mb, seed) {
  sh('sh', [
    '-c',
    `openssl enc -aes-128-ctr -pass pass:${seed} -nosalt -pbkdf2 < /dev/zero 2>/dev/null | head -c ${mb}M > ${file}`,
  ]);
}

/** The two contexts, made once and kept (they are the slow part to make). */
async function contexts() {
  const data = join(base, 'tsbuild-big-layers-data');
  const one = join(data, `one-${BIG_MB}`);
  const many = join(data, `many-${MANY_N}x${MANY_MB}`);
  for (const [dir, files] of [
    [one, [['big.bin', BIG_MB]]],
    [many, Array.from({ length: MANY_N }, (_, i) => [`f${String(i).padStart(4, '0')}.bin`, MANY_MB])],
  ]) {
    await mkdir(dir, { recursive: true });
    for (const [f, mb] of files) {
      const p = join(dir, f);
      if (!existsSync(p) || statSync(p).size !== mb * 1024 * 1024) random(p, mb, f);
    }
  }
  return { one, many };
}

const work = await mkdtemp(join(base, 'bench-big-layers-'));
const stops = [];
const rows = [];
const row = (image, op, r, ref) => {
  rows.push({ image, op, ...r, ref });
  const ratio = ref ? `  ${(r.seconds / ref.seconds).toFixed(2)}× ${ref.name}` : '';
  console.log(
    `  ${image.padEnd(5)} ${op.padEnd(28)} ${r.seconds.toFixed(1).padStart(7)} s ${r.rssMB === undefined ? '' : `${String(r.rssMB).padStart(4)} MB`}${ratio}`,
  );
};
try {
  const ctx = await contexts();
  const seed = await startRegistry(work);
  stops.push(seed.stop);
  const root = join(work, 'store');
  await seedBusybox(work, TSBUILD, root, seed.host);
  const d = process.env.BENCH_DOCKER === '0' ? undefined : await startDockerd(work);
  if (d) stops.push(d.stop);
  else console.log('bench: docker push/pull skipped (BENCH_DOCKER=0 or no /usr/sbin/dockerd)');
  const docker = (args) => sh('/usr/bin/docker', args, { env: d.env });
  const tb = (...args) => [TSBUILD, ['--root', root, '--insecure-registry', seed.host, ...args]];
  console.log(`bench/big-layers: one ${BIG_MB} MB file; ${MANY_N} × ${MANY_MB} MB files (time, peak RSS, ratio)`);
  for (const image of images) {
    const dir = ctx[image];
    await writeFile(join(dir, 'Dockerfile'), `FROM ${seed.host}/library/busybox:latest\nCOPY . /data/\n`);
    const tag = `big/${image}:1`;
    row(image, 'build', timed(...tb('build', '-q', '-t', tag, dir)));
    // each push to a registry of its own, so every blob is uploaded; the pulls read these
    const regs = {};
    // zstd first: each push removes the compressed records first (so it compresses), and the blob copy below needs
    // the gzip record the last one leaves (with gzip first, the "blob copy" compressed the layer again)
    for (const c of ['zstd', 'gzip']) {
      for (const f of await readdir(join(root, 'compressed')).catch(() => []))
        await rm(join(root, 'compressed', f), { recursive: true, force: true });
      regs[c] = await startRegistry(work);
      stops.push(regs[c].stop);
      const out = `type=registry,name=${regs[c].host}/${tag},compression=${c}`;
      row(
        image,
        `push ${c} (compressing)`,
        timed(...tb('--insecure-registry', regs[c].host, 'build', '-q', '-o', out, dir)),
      );
    }
    // blob copy: the gzip blobs exist now (compressed/), so this push only reads and uploads
    const copyReg = await startRegistry(work);
    const copy = timed(...tb('--insecure-registry', copyReg.host, 'push', tag, `${copyReg.host}/${tag}`));
    await copyReg.stop();
    const layout = join(work, 'oci');
    sh(TSBUILD, ['--root', root, 'build', '-q', '-o', `type=oci,compression=gzip,name=${tag},dest=${layout}.tar`, dir]);
    await mkdir(layout);
    sh('tar', ['-C', layout, '-xf', `${layout}.tar`]);
    await rm(`${layout}.tar`, { force: true });
    const skopeoReg = await startRegistry(work);
    const skopeo = timed('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `oci:${layout}`,
      `docker://${skopeoReg.host}/${tag}`,
    ]);
    await skopeoReg.stop();
    await rm(layout, { recursive: true, force: true });
    row(image, 'skopeo copy (blobs)', skopeo);
    row(image, 'push gzip (blob copy)', copy, { name: 'skopeo', seconds: skopeo.seconds });
    let dpush;
    let dpull;
    if (d) {
      const dreg = await startRegistry(work);
      const archive = join(work, 'docker.tar');
      sh(TSBUILD, ['--root', root, 'build', '-q', '-o', `type=docker,dest=${archive},name=${tag}`, dir]);
      docker(['load', '-q', '-i', archive]);
      await rm(archive, { force: true });
      docker(['tag', tag, `${dreg.host}/${tag}`]);
      dpush = timed('/usr/bin/docker', ['push', '-q', `${dreg.host}/${tag}`], d.env);
      docker(['rmi', tag, `${dreg.host}/${tag}`]);
      dpull = timed('/usr/bin/docker', ['pull', '-q', `${dreg.host}/${tag}`], d.env);
      docker(['rmi', `${dreg.host}/${tag}`]);
      await dreg.stop();
      row(image, 'docker push (gzip)', { seconds: dpush.seconds });
      row(image, 'docker pull', { seconds: dpull.seconds });
    }
    for (const c of ['gzip', 'zstd']) {
      const r = regs[c];
      const push = rows.find((x) => x.image === image && x.op === `push ${c} (compressing)`);
      if (dpush) push.ratio = push.seconds / dpush.seconds;
      const empty = join(work, `pull-${c}`);
      const pull = timed(TSBUILD, [
        '--root',
        empty,
        '--insecure-registry',
        r.host,
        'pull',
        '--progress=quiet',
        `${r.host}/${tag}`,
      ]);
      await rm(empty, { recursive: true, force: true });
      row(image, `pull+unpack ${c}`, pull, dpull && { name: 'docker pull', seconds: dpull.seconds });
      await r.stop();
    }
    if (dpush)
      for (const c of ['gzip', 'zstd']) {
        const p = rows.find((x) => x.image === image && x.op === `push ${c} (compressing)`);
        console.log(
          `  ${image.padEnd(5)} push ${c} / docker push: ${(p.seconds / dpush.seconds).toFixed(2)}× (target ≤ 1.0×)`,
        );
      }
    sh(TSBUILD, ['--root', root, 'rmi', tag]);
    sh(TSBUILD, ['--root', root, 'prune']);
  }
  const over = rows.filter((r) => r.rssMB !== undefined && !/skopeo/.test(r.op) && r.rssMB > RSS_MB);
  const peak = Math.max(...rows.filter((r) => r.rssMB !== undefined && !/skopeo/.test(r.op)).map((r) => r.rssMB));
  console.log(
    `\ntsbuild peak RSS over all operations: ${peak} MB (target ≤ ${RSS_MB} MB)${over.length ? ` — over: ${over.map((r) => `${r.image} ${r.op}`).join(', ')}` : ''}`,
  );
  console.log('\n| image | operation | s | peak RSS MB | ratio |\n|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.image} | ${r.op} | ${r.seconds.toFixed(1)} | ${r.rssMB ?? '—'} | ${r.ref ? `${(r.seconds / r.ref.seconds).toFixed(2)}× ${r.ref.name}` : r.ratio ? `${r.ratio.toFixed(2)}× docker push` : ''} |`,
    );
} finally {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
