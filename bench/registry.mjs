#!/usr/bin/env node
// Registry benchmark: push and pull of a 3-layer image (busybox, 5 MB and 200 MB of random data) to a local
// docker-registry started here, tsbuild beside `skopeo copy` of the same image in the same run. Prints medians of
// BENCH_N runs (default 3), MB/s, the ratio tsbuild/skopeo (< 1: tsbuild faster) and peak RSS.
//   npm run bench:registry          env: BENCH_N, BENCH_BIG_MB (default 200)
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startRegistry as startDockerRegistry } from './lib/registry.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const dist = (p) => pathToFileURL(join(repo, 'dist', p)).href;

// ---- child mode: one tsbuild operation, then its time and peak RSS as JSON on stdout ----
if (process.argv[2] === '--child') {
  const [op, dir, ref, host, extra] = process.argv.slice(3);
  const rc = await import(dist('registry-client/api.js'));
  const { parseReference } = await import(dist('oci/reference.js'));
  const opts = { insecure: [host], concurrency: 4 };
  const t0 = performance.now();
  if (op === 'push') {
    const layout = await rc.OciLayout.open(dir);
    const top = await layout.resolve('latest');
    await rc.pushImage(layout, top, [parseReference(ref)], opts);
  } else if (op === 'pull') {
    const layout = await rc.OciLayout.open(dir);
    await rc.pullImage(parseReference(ref), layout, opts);
  } else if (op === 'push-store') {
    // The real `tsbuild push` path: uncompressed layers in the store, gzipped by store.layers.compressed on the way.
    const { openStore, registryView } = await import(dist('store/index.js'));
    const { createReadStream } = await import('node:fs');
    const store = await openStore(extra);
    const layout = await rc.OciLayout.open(dir);
    const top = await layout.resolve('latest');
    const m = JSON.parse((await layout.readBytes(top.digest)).toString());
    for (const b of [m.config, ...m.layers])
      await store.blobs.put(createReadStream(layout.blobPath(b.digest)), { digest: b.digest, size: b.size });
    const desc = await store.blobs.putBytes(await layout.readBytes(top.digest), top.mediaType, top.digest);
    const t1 = performance.now();
    await rc.pushImage(registryView(store), desc, [parseReference(ref)], opts);
    await store.close();
    process.stdout.write(
      JSON.stringify({
        seconds: (performance.now() - t1) / 1000,
        rssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      }) + '\n',
    );
    process.exit(0);
  } else if (op === 'pull-unpack') {
    const { openStore, registryView } = await import(dist('store/index.js'));
    const store = await openStore(dir);
    try {
      await rc.pullImage(parseReference(ref), registryView(store), { ...opts, unpack: true, unpackMode: extra });
    } finally {
      await store.close();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, rssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
  process.exit(0);
}

const N = Number(process.env.BENCH_N ?? 3);
// BENCH_ONLY=push,pull,unpack runs only those sections.
const only = new Set((process.env.BENCH_ONLY ?? 'push,pull,unpack').split(','));
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 200);
if (!existsSync(join(repo, 'dist/registry-client/index.js'))) {
  console.error('bench: dist/ is missing; run `npx tsc -p tsconfig.json` first');
  process.exit(2);
}
const work = await mkdtemp(join(tmpdir(), 'tsbuild-bench-registry-'));
const registries = [];

async function startRegistry() {
  const reg = await startDockerRegistry(work);
  registries.push(reg);
  return reg;
}

function timeCommand(cmd, args) {
  const hasTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  const rss = hasTime ? Math.round(Number(r.stderr.trim().split('\n').pop()) / 1024) : undefined;
  return { seconds, rssMB: rss };
}

function timeChild(...args) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsbuild ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// ---- the image: an OCI layout with gzip layers, and the same with uncompressed layers ----
async function tarDir(dir, out) {
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-C',
    dir,
    '-cf',
    out,
    '.',
  ]);
}

async function buildLayouts() {
  const { digestOf, DigestingStream } = await import(dist('oci/digest.js'));
  const { pipeline } = await import('node:stream/promises');
  const { createReadStream } = await import('node:fs');
  const { createGzip } = await import('node:zlib');
  const { rename } = await import('node:fs/promises');
  const src = join(work, 'src');
  const dirs = [join(src, 'l1'), join(src, 'l2'), join(src, 'l3')];
  for (const d of dirs) await mkdir(join(d, 'data'), { recursive: true });
  await mkdir(join(dirs[0], 'bin'), { recursive: true });
  execFileSync('cp', ['/bin/busybox', join(dirs[0], 'bin/busybox')]);
  await writeFile(join(dirs[1], 'data/small.bin'), randomBytes(5 << 20));
  const big = createWriteStream(join(dirs[2], 'data/big.bin'));
  for (let i = 0; i < BIG_MB; i++) if (!big.write(randomBytes(1 << 20))) await new Promise((r) => big.once('drain', r));
  await new Promise((r) => big.end(r));

  const out = {};
  for (const kind of ['gzip', 'tar']) {
    const layout = join(work, `layout-${kind}`);
    await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const layers = [];
    const diffIDs = [];
    for (const [i, d] of dirs.entries()) {
      const tarFile = join(work, `l${i}.tar`);
      if (!existsSync(tarFile)) await tarDir(d, tarFile);
      const raw = new DigestingStream();
      const gz = new DigestingStream();
      const tmp = join(layout, 'blobs', '.tmp');
      if (kind === 'gzip')
        await pipeline(createReadStream(tarFile), raw, createGzip({ level: 1 }), gz, createWriteStream(tmp));
      else await pipeline(createReadStream(tarFile), raw, gz, createWriteStream(tmp));
      await rename(tmp, join(layout, 'blobs/sha256', gz.digest().slice(7)));
      diffIDs.push(raw.digest());
      layers.push({
        mediaType:
          kind === 'gzip' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
        digest: gz.digest(),
        size: gz.size,
      });
    }
    const put = async (obj, mediaType) => {
      const bytes = Buffer.from(JSON.stringify(obj));
      const digest = digestOf(bytes);
      await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), bytes);
      return { mediaType, digest, size: bytes.length };
    };
    const config = await put(
      {
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/busybox', 'sh'] },
        rootfs: { type: 'layers', diff_ids: diffIDs },
      },
      'application/vnd.oci.image.config.v1+json',
    );
    const manifest = await put(
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers },
      'application/vnd.oci.image.manifest.v1+json',
    );
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
      }),
    );
    out[kind] = { layout, bytes: layers.reduce((a, l) => a + l.size, 0) + config.size };
  }
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(label, fn) {
  const runs = [];
  for (let i = 0; i < N; i++) runs.push(await fn(i));
  const r = {
    seconds: median(runs.map((x) => x.seconds)),
    rssMB: Math.max(...runs.map((x) => x.rssMB ?? 0)) || undefined,
  };
  console.log(`  ${label.padEnd(44)} ${r.seconds.toFixed(2)}s${r.rssMB ? `  peak RSS ${r.rssMB} MB` : ''}`);
  return r;
}

try {
  console.log(`bench/registry: 3-layer image with a ${BIG_MB} MB random layer, median of ${N}`);
  const L = await buildLayouts();
  const mb = L.gzip.bytes / 1e6;
  const mbRaw = L.tar.bytes / 1e6;
  const rows = [];
  const fresh = async () => startRegistry();

  if (only.has('push')) {
    const pushSkopeo = await measure('push compressed: skopeo copy oci → registry', async () => {
      const reg = await fresh();
      const r = timeCommand('skopeo', [
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        `oci:${L.gzip.layout}:latest`,
        `docker://${reg.host}/bench/img:1`,
      ]);
      await reg.stop();
      return r;
    });
    const pushTs = await measure('push compressed: tsbuild OCI layout → registry', async () => {
      const reg = await fresh();
      const r = timeChild('push', L.gzip.layout, `${reg.host}/bench/img:1`, reg.host);
      await reg.stop();
      return r;
    });
    rows.push(['push (compressed blobs)', mb, pushTs, pushSkopeo]);

    const pushSkopeoC = await measure('push + gzip: skopeo copy --dest-compress', async () => {
      const reg = await fresh();
      const r = timeCommand('skopeo', [
        'copy',
        '--quiet',
        '--dest-compress',
        '--dest-tls-verify=false',
        `oci:${L.tar.layout}:latest`,
        `docker://${reg.host}/bench/img:1`,
      ]);
      await reg.stop();
      return r;
    });
    const pushTsC = await measure('push + gzip: tsbuild (uncompressed layout)', async () => {
      const reg = await fresh();
      // A fresh copy each run: the layout keeps the gzip blobs it made, as the store does.
      const copy = join(work, `tar-copy`);
      await rm(copy, { recursive: true, force: true });
      execFileSync('cp', ['-a', L.tar.layout, copy]);
      const r = timeChild('push', copy, `${reg.host}/bench/img:1`, reg.host);
      await reg.stop();
      return r;
    });
    rows.push(['push incl. gzip (OCI layout)', mbRaw, pushTsC, pushSkopeoC]);
    if (existsSync(join(repo, 'dist/store/index.js'))) {
      const pushStore = await measure('push + gzip: tsbuild from the store', async (i) => {
        const reg = await fresh();
        const storeDir = join(work, `push-store-${i}`);
        const r = timeChild('push-store', L.tar.layout, `${reg.host}/bench/img:1`, reg.host, storeDir);
        await reg.stop();
        await rm(storeDir, { recursive: true, force: true });
        return r;
      });
      rows.push(['push incl. gzip (store)', mbRaw, pushStore, pushSkopeoC]);
    }
  }

  const seed = await fresh();
  execFileSync('skopeo', [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    `oci:${L.gzip.layout}:latest`,
    `docker://${seed.host}/bench/img:1`,
  ]);
  const pullSkopeo = await measure('pull: skopeo copy registry → empty OCI dir', async (i) => {
    const dir = join(work, `skopeo-pull-${i}`);
    const r = timeCommand('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      `docker://${seed.host}/bench/img:1`,
      `oci:${dir}:latest`,
    ]);
    await rm(dir, { recursive: true, force: true });
    return r;
  });
  const pullTs = !only.has('pull')
    ? undefined
    : await measure('pull: tsbuild registry → empty OCI layout', async (i) => {
        const dir = join(work, `ts-pull-${i}`);
        const r = timeChild('pull', dir, `${seed.host}/bench/img:1`, seed.host);
        await rm(dir, { recursive: true, force: true });
        return r;
      });
  if (only.has('pull')) rows.push(['pull into an empty OCI dir', mb, pullTs, pullSkopeo]);

  if (only.has('unpack') && existsSync(join(repo, 'dist/store/index.js'))) {
    for (const mode of ['tee', 'after']) {
      const r = await measure(`pull + unpack into an empty store (${mode})`, async (i) => {
        const dir = join(work, `store-${mode}-${i}`);
        const r = timeChild('pull-unpack', dir, `${seed.host}/bench/img:1`, seed.host, mode);
        await rm(dir, { recursive: true, force: true });
        return r;
      });
      rows.push([`pull + unpack (${mode}) vs skopeo pull`, mb, r, pullSkopeo]);
    }
  } else {
    console.log('  pull + unpack: skipped (dist/store/index.js not built yet)');
  }

  console.log('\n  operation                     MB      tsbuild MB/s   skopeo MB/s   ratio time tsbuild/skopeo');
  for (const [name, size, t, s] of rows) {
    console.log(
      `  ${name.padEnd(28)} ${size.toFixed(0).padStart(5)}   ${(size / t.seconds).toFixed(1).padStart(10)}   ${(size / s.seconds).toFixed(1).padStart(11)}   ${(t.seconds / s.seconds).toFixed(2).padStart(8)}`,
    );
  }
  const peak = Math.max(...rows.map((r) => r[2].rssMB ?? 0));
  console.log(`  tsbuild peak RSS over all operations: ${peak} MB (target < 150 MB)`);
} finally {
  for (const r of registries) await r.stop().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
