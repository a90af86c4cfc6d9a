// The unpack of one gzip layer by two builds of tsbuild, in turn (A first in even rounds, B first in odd ones),
// each in a fresh process and a fresh store: the tie-breaker when bench/layer's unpack ratio moves, since that
// ratio divides by `tar -xzf`, whose time swings with this VM's disk more than ours does.
//   node bench/unpack-ab.mjs LAYER.tgz DIST_A DIST_B [ROUNDS]   (DIST_*: a checkout's dist/, built)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { linkSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const [gz, a, b, rounds = '5', child] = process.argv.slice(2);
if (child === 'child') {
  // argv: LAYER.tgz - DIST - child
  const { openStore } = await import(join(process.argv[4], 'store/index.js'));
  const work = mkdtempSync(join('/var/tmp', 'tsbuild-unpack-ab-'));
  const store = await openStore(join(work, 'store'));
  const digest = 'sha256:' + createHash('sha256').update(readFileSync(gz)).digest('hex');
  // before the store split (issue 15) the store had blobPath/unpackLayer; after it, blobs.path/layers.unpack
  linkSync(gz, store.blobPath ? store.blobPath(digest) : store.blobs.path(digest));
  spawnSync('sync');
  const unpack = store.unpackLayer ? store.unpackLayer.bind(store) : store.layers.unpack.bind(store.layers);
  const t = performance.now();
  await unpack({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: statSync(gz).size });
  console.log(((performance.now() - t) / 1000).toFixed(2));
  await store.close();
  rmSync(work, { recursive: true, force: true });
} else {
  if (!gz || !a || !b) {
    console.error('usage: node bench/unpack-ab.mjs LAYER.tgz DIST_A DIST_B [ROUNDS]');
    process.exit(2);
  }
  const times = { A: [], B: [] };
  for (let i = 0; i < Number(rounds); i++) {
    for (const [k, dist] of i % 2
      ? [
          ['B', b],
          ['A', a],
        ]
      : [
          ['A', a],
          ['B', b],
        ]) {
      const r = spawnSync(process.execPath, [process.argv[1], gz, '-', dist, '-', 'child'], {
        encoding: 'utf8',
        env: { ...process.env, MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' },
      });
      if (r.status !== 0) throw new Error(`unpack with ${dist} failed:\n${r.stderr}`);
      times[k].push(Number(r.stdout.trim()));
    }
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
  console.log(`A ${a}: ${times.A.join(' ')} s, median ${median(times.A)} s`);
  console.log(`B ${b}: ${times.B.join(' ')} s, median ${median(times.B)} s`);
  console.log(`B/A ${(median(times.B) / median(times.A)).toFixed(2)}`);
}
