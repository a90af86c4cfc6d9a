// bench/layer: the layer codec on the big-context tree (20,000 small files + one 200 MB random file), in one run:
//   1. commit an upperdir as a layer (diff → tar + diffID → blob, upperdir kept as the unpacked layer) vs `tar -cf`
//   2. compress the layer for push (parallel gzip) vs `tar -czf`
//   3. unpack the gzip layer into a fresh store vs `tar -xzf`
// and this process's peak RSS. Targets: ≤ 2×, ≤ 0.5×, ≤ 1×, < 150 MB. Run: npm run bench:layer
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, cpSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const here = dirname(fileURLToPath(import.meta.url));
const { openStore } = await import(join(here, '../dist/store/index.js'));
const gen = join(here, '../../shared/bench/workloads/big-context/gen.sh');

const work = mkdtempSync(join(tmpdir(), 'tsbuild-bench-layer-'));
const sh = (cmd, cwd = work) => {
  const r = spawnSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
};
const time = async (fn) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
const dropCaches = () => sh('sync');

try {
  const tree = join(work, 'tree');
  mkdirSync(tree);
  cpSync(gen, join(tree, 'gen.sh'));
  sh('sh gen.sh && rm gen.sh', tree);
  const store = await openStore(join(work, 'store'));

  // 1. commit vs tar -cf (both write a file; ours also hashes, fsyncs and keeps the tree as the unpacked layer)
  dropCaches();
  const tarCf = await time(() => sh(`tar -cf ${join(work, 'ref.tar')} -C ${tree} .`));
  const dirs = await store.containerDirs();
  rmSync(dirs.upperdir, { recursive: true });
  sh(`cp -a ${tree} ${dirs.upperdir}`);
  dropCaches();
  let layer;
  const commit = await time(async () => {
    layer = await store.commitLayer(dirs.upperdir);
  });
  await dirs.release();
  const rssCommit = process.resourceUsage().maxRSS / 1024;

  // 2. compress for push vs tar -czf
  dropCaches();
  const tarCzf = await time(() => sh(`tar -czf ${join(work, 'ref.tgz')} -C ${tree} .`));
  let gz;
  const compress = await time(async () => {
    gz = await store.compressedLayer(layer.descriptor);
  });
  const rssCompress = process.resourceUsage().maxRSS / 1024;
  const gzipT = spawnSync('gzip', ['-t', store.blobPath(gz.digest)]);
  if (gzipT.status !== 0) throw new Error('gzip -t rejects the compressed layer');

  // 3. unpack the gzip layer (fresh store) vs tar -xzf of the same blob
  const store2 = await openStore(join(work, 'store2'));
  await store2.writeBlob(createReadStream(store.blobPath(gz.digest)), { digest: gz.digest, size: gz.size });
  mkdirSync(join(work, 'x'));
  dropCaches();
  const tarXzf = await time(() => sh(`tar -xzf ${store.blobPath(gz.digest)} -C ${join(work, 'x')}`));
  dropCaches();
  let unpacked;
  const unpack = await time(async () => {
    unpacked = await store2.unpackLayer(gz);
  });
  if (unpacked.diffID !== layer.diffID) throw new Error('unpacked diffID differs from the committed one');
  await store.close();
  await store2.close();

  const rssMB = process.resourceUsage().maxRSS / 1024;
  const row = (name, ours, ref, target) => {
    const ratio = ours / ref;
    return `${name.padEnd(26)} ${ours.toFixed(2).padStart(7)} s   ref ${ref.toFixed(2).padStart(6)} s   ratio ${ratio.toFixed(2)}  (target ≤ ${target}) ${ratio <= target ? 'ok' : 'MISSED'}`;
  };
  console.log(`layer: ${(layer.descriptor.size / 1e6).toFixed(1)} MB tar, ${(gz.size / 1e6).toFixed(1)} MB gzip (tar -czf: ${(Number(execFileSync('stat', ['-c', '%s', join(work, 'ref.tgz')]).toString()) / 1e6).toFixed(1)} MB)`);
  console.log(row('commit vs tar -cf', commit, tarCf, 2));
  console.log(row('compress vs tar -czf', compress, tarCzf, 0.5));
  console.log(row('unpack gzip vs tar -xzf', unpack, tarXzf, 1));
  console.log(`peak RSS ${rssMB.toFixed(0)} MB (target < 150) ${rssMB < 150 ? 'ok' : 'MISSED'}; after commit ${rssCommit.toFixed(0)} MB, after compress ${rssCompress.toFixed(0)} MB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
