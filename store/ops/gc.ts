// `tsbuild prune`: mark everything reachable from index.json and from live leases, sweep the rest (blobs,
// unpacked layers, records), and the temp files of dead processes. Cache records whose layer blob is gone go too.
// Order matters against concurrent writers: the blob list is taken before the leases are read, and a writer leases
// a digest before it places the blob, so a blob placed during the prune is either unlisted or leased.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest } from '../../oci/digest.js';
import type { Digest, ImageConfigFile, ImageIndex, ImageManifest } from '../../oci/types.js';
import type { Store } from '../api.js';
import { recordInFile } from '../cache.js';
import { pidAlive, tempOwnerPid } from '../fsutil.js';
import { LayerDirs } from '../layers.js';
import { LazyBlobs } from '../lazy.js';
import { readIndexFile } from '../layout.js';
import { liveLeasedDigests } from '../leases.js';
import { withLock } from '../lock.js';

export interface PruneReport {
  blobs: number;
  layers: number;
  cache: number;
  /** Records of lazy blobs (never downloaded) no image uses any more. */
  lazy: number;
  temp: number;
  bytes: number;
}

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

async function sizeOf(p: string): Promise<number> {
  return stat(p).then(
    (s) => s.size,
    () => 0,
  );
}

export async function pruneStore(store: Store): Promise<PruneReport> {
  const root = store.root;
  return withLock(root, 'gc', async () => {
    const report: PruneReport = { blobs: 0, layers: 0, cache: 0, lazy: 0, temp: 0, bytes: 0 };
    const blobNames = await list(join(root, 'blobs', 'sha256'));
    const layerNames = await list(join(root, 'layers'));
    const lazyNames = await new LazyBlobs(root).list();
    const leased = await liveLeasedDigests(root);
    const keep = new Set<string>();
    const keepDiff = new Set<string>();
    const visit = async (d: string, depth: number): Promise<void> => {
      if (keep.has(d) || !isDigest(d)) return;
      keep.add(d);
      if (depth > 4 || !(await store.hasBlob(d))) return;
      if ((await store.blobSize(d)) > 4 << 20) return;
      let json: Partial<ImageManifest & ImageIndex & ImageConfigFile>;
      try {
        json = JSON.parse((await store.readBytes(d)).toString('utf8')) as typeof json;
      } catch {
        return;
      }
      if (typeof json !== 'object' || json === null) return;
      if (Array.isArray(json.manifests)) for (const m of json.manifests) await visit(m.digest, depth + 1);
      if (json.config && typeof json.config === 'object' && 'digest' in json.config) await visit((json.config as { digest: string }).digest, depth + 1);
      if (Array.isArray(json.layers)) {
        for (const l of json.layers) {
          keep.add(l.digest);
          const diffID = await store.diffIDOf(l);
          if (diffID) keepDiff.add(diffID);
        }
      }
      if (json.rootfs && Array.isArray(json.rootfs.diff_ids)) for (const id of json.rootfs.diff_ids) keepDiff.add(id);
    };
    for (const m of (await readIndexFile(root)).manifests) await visit(m.digest, 0);
    for (const d of leased) {
      keepDiff.add(d);
      await visit(d, 0);
    }
    const lazy = new LazyBlobs(root);
    // A kept lazy layer from a registry cache keeps its gzip blob (its compressed form, for push), downloaded or not.
    for (const d of lazyNames) {
      if (!keep.has(d)) continue;
      for (const s of (await lazy.get(d))?.sources ?? []) if (s.blob.digest !== d) keep.add(s.blob.digest);
    }
    // layers kept uncompressed may have a gzip twin made for push: keep it with its source
    for (const d of [...keep, ...keepDiff]) {
      if (!isDigest(d)) continue;
      const gz = (await readFile(join(root, 'compressed', d.slice(7)), 'utf8').catch(() => '')).trim();
      if (isDigest(gz)) keep.add(gz);
      keepDiff.add(d);
    }
    for (const hex of blobNames) {
      const d = `sha256:${hex}`;
      if (keep.has(d)) continue;
      report.bytes += await sizeOf(join(root, 'blobs', 'sha256', hex));
      await rm(join(root, 'blobs', 'sha256', hex), { force: true });
      await rm(join(root, 'diffids', hex), { force: true });
      await rm(join(root, 'compressed', hex), { force: true });
      report.blobs++;
    }
    // what a lazy batch write (LazyBlobs.addMany) or a temp write left when its process died
    for (const name of await list(join(root, 'lazy'))) {
      const owner = tempOwnerPid(name);
      if ((name.startsWith('batch-') || name.startsWith('.tmp')) && owner !== undefined && !pidAlive(owner)) {
        await rm(join(root, 'lazy', name), { force: true });
        report.temp++;
      }
    }
    for (const d of lazyNames) {
      if (keep.has(d)) continue;
      await lazy.remove(d);
      await rm(join(root, 'diffids', d.slice(7)), { force: true });
      await rm(join(root, 'compressed', d.slice(7)), { force: true });
      report.lazy++;
    }
    const layers = new LayerDirs(root);
    for (const name of layerNames) {
      const owner = tempOwnerPid(name);
      if (name.startsWith('tmp-') || name.startsWith('trash-')) {
        if (owner !== undefined && !pidAlive(owner)) {
          await rm(join(root, 'layers', name), { recursive: true, force: true });
          report.temp++;
        }
        continue;
      }
      if (!/^[a-f0-9]{64}$/.test(name) || keepDiff.has(`sha256:${name}`)) continue;
      await layers.removeLayer(`sha256:${name}` as Digest);
      report.layers++;
    }
    await layers.cleanLinks();
    for (const dir of ['diffids', 'compressed']) {
      for (const hex of await list(join(root, dir))) {
        if (!(await store.hasBlob(`sha256:${hex}` as Digest))) await rm(join(root, dir, hex), { force: true });
      }
    }
    for (const name of await list(join(root, 'cache'))) {
      const p = join(root, 'cache', name);
      const owner = tempOwnerPid(name);
      if (name.startsWith('.tmp') || name.startsWith('batch-')) {
        if (owner !== undefined && !pidAlive(owner)) await rm(p, { force: true });
        continue;
      }
      const rec = recordInFile(await readFile(p, 'utf8').catch(() => ''), name);
      if (!rec || (rec.layer && !(await store.hasBlob(rec.layer.descriptor.digest)))) {
        await rm(p, { force: true });
        report.cache++;
      }
    }
    for (const name of await list(join(root, 'tmp'))) {
      const owner = tempOwnerPid(name);
      if (owner === undefined || !pidAlive(owner)) {
        report.bytes += await sizeOf(join(root, 'tmp', name));
        await rm(join(root, 'tmp', name), { recursive: true, force: true });
        report.temp++;
      }
    }
    for (const name of await list(join(root, 'run'))) {
      const pid = Number(name.split('-')[0]);
      if (Number.isInteger(pid) && !pidAlive(pid)) {
        await rm(join(root, 'run', name), { recursive: true, force: true });
        report.temp++;
      }
    }
    return report;
  });
}
