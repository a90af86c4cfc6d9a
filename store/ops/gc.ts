// `tsbuild prune`: mark everything reachable from index.json and from live leases, sweep the rest (blobs,
// unpacked layers, records), and the temp files of dead processes. Cache records whose layer blob is gone go too.
// Order matters against concurrent writers (docs/store.md): the prune announces itself (beginCollection), lists
// blobs, layers, lazy records and short links, then reads the leases. A writer leases a digest before it places
// anything under that digest's name, and a lease written after the prune read them waits for the prune to end
// (leases.ts), so whatever was listed is either leased or left by no live process. Temp files carry their
// writer's pid and go only when it is dead.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest } from '../../oci/index.js';
import type { Digest } from '../../oci/index.js';
import type { Store } from '../api.js';
import { recordInFile } from '../cache.js';
import { pidAlive, tempOwnerPid } from '../fsutil.js';
import { LayerDirs } from '../layers.js';
import { LazyBlobs } from '../lazy.js';
import { gitCacheDir, gitCacheLease, GIT_CACHE_ENTRY } from '../git-cache.js';
import { SNAPSHOT_ENTRY, snapshotLease } from '../snapshots.js';
import { readIndexFile, REF_NAME, tagsOf, updateIndex } from '../layout.js';
import { beginCollection, liveLeasedDigests } from '../leases.js';
import { withLock } from '../lock.js';
import { compactUsage, readUsage } from '../usage.js';
import { selectEvictions, type PruneBounds } from './prune-bounds.js';
import { emptyReach, reachFrom } from './reach.js';

export type { PruneBounds } from './prune-bounds.js';

export interface PruneReport {
  /** Tags removed by --keep-storage / --filter until= (least recently used first), with when each was last used. */
  images: { name: string; digest: string; lastUsed: string }[];
  blobs: number;
  layers: number;
  cache: number;
  /** Records of lazy blobs (never downloaded) no image uses any more. */
  lazy: number;
  temp: number;
  /** Git checkouts (builder/git/) no live build names in its lease. */
  git: number;
  /** Copy snapshots (snapshots/) no live build names in its lease. */
  snapshots: number;
  /** Kept SBOM scans and statements (builder/sbom-scans/) whose layer or statement blob went. */
  sbom: number;
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

export async function pruneStore(store: Store, bounds: PruneBounds = {}): Promise<PruneReport> {
  const root = store.root;
  return withLock(root, 'gc', async () => {
    const end = await beginCollection(root);
    try {
      return await collect(store, bounds);
    } finally {
      await end();
    }
  });
}

/** A temp name (`.tmp-<pid>-<rand>`, `batch-…`, `tmp-…`) whose writer is dead; undefined for other names. */
function deadTemp(name: string): boolean | undefined {
  const owner = tempOwnerPid(name);
  if (owner === undefined) return undefined;
  return !pidAlive(owner);
}

async function collect(store: Store, bounds: PruneBounds): Promise<PruneReport> {
  const root = store.root;
  const report: PruneReport = {
    images: [],
    blobs: 0,
    layers: 0,
    cache: 0,
    lazy: 0,
    temp: 0,
    git: 0,
    snapshots: 0,
    sbom: 0,
    bytes: 0,
  };
  const blobNames = await list(join(root, 'blobs', 'sha256'));
  const layerNames = await list(join(root, 'layers'));
  const lazyNames = await new LazyBlobs(root).list();
  const layers = new LayerDirs(root);
  const linkNames = await layers.listLinks();
  // Git checkouts, listed before the leases are read as the blobs are: a build leases one before it looks for it
  const gitNames = (await list(gitCacheDir(root))).filter((n) => GIT_CACHE_ENTRY.test(n));
  const snapshotNames = (await list(join(root, 'snapshots'))).filter((n) => SNAPSHOT_ENTRY.test(n));
  const leased = await liveLeasedDigests(root);
  const usage = await readUsage(root);
  if (bounds.keepStorage !== undefined || bounds.untilMs !== undefined) {
    // Before the mark reads index.json: a removed tag's image is then swept like any unreferenced one. Only the
    // entry decided on goes; a tag moved to another image meanwhile (a build that leased it) stays.
    const evict = await selectEvictions(store, tagsOf(await readIndexFile(root)), leased, usage, bounds);
    if (evict.length > 0) {
      await updateIndex(root, (index) => {
        index.manifests = index.manifests.filter(
          (m) => !evict.some((e) => m.annotations?.[REF_NAME] === e.name && m.digest === e.target.digest),
        );
      });
    }
    report.images = evict.map((e) => ({
      name: e.name,
      digest: e.target.digest,
      lastUsed: new Date(e.lastUsed).toISOString(),
    }));
  }
  const reach = emptyReach();
  const keep = reach.blobs;
  const keepDiff = reach.diffIDs;
  const lazy = new LazyBlobs(root);
  /** Present, or recorded lazily; read without leasing (prune's own lease would only add writes). */
  const present = async (d: Digest): Promise<boolean> =>
    existsSync(store.blobs.path(d)) || (await lazy.get(d)) !== undefined;
  for (const m of (await readIndexFile(root)).manifests) await reachFrom(store, m.digest, reach);
  for (const d of leased) {
    keepDiff.add(d);
    await reachFrom(store, d, reach);
  }
  // A kept lazy layer from a registry cache keeps its gzip blob (its compressed form, for push), downloaded or not.
  for (const d of lazyNames) {
    if (!keep.has(d)) continue;
    for (const s of (await lazy.get(d))?.sources ?? []) if (s.blob.digest !== d) keep.add(s.blob.digest);
  }
  // Layers kept uncompressed may have a gzip twin made for push: keep it with its source. A kept gzip layer
  // blob (leased by a pull that is unpacking it) keeps its unpacked layer.
  // compressed/<diffID hex> is the gzip twin; <hex>.<kind>[-<level>] the others (zstd, another level)
  const twins = new Map<string, string[]>();
  for (const name of await list(join(root, 'compressed'))) {
    const hex = name.split('.')[0]!;
    if (/^[a-f0-9]{64}$/.test(hex)) twins.set(hex, [...(twins.get(hex) ?? []), name]);
  }
  const removeTwins = async (hex: string): Promise<void> => {
    for (const name of twins.get(hex) ?? []) await rm(join(root, 'compressed', name), { force: true });
  };
  for (const d of [...keep, ...keepDiff]) {
    if (!isDigest(d)) continue;
    for (const name of twins.get(d.slice(7)) ?? []) {
      const twin = (await readFile(join(root, 'compressed', name), 'utf8').catch(() => '')).trim();
      if (isDigest(twin)) keep.add(twin);
    }
    const diffID = (await readFile(join(root, 'diffids', d.slice(7)), 'utf8').catch(() => '')).trim();
    if (isDigest(diffID)) keepDiff.add(diffID);
    keepDiff.add(d);
  }
  for (const hex of blobNames) {
    const d = `sha256:${hex}`;
    if (keep.has(d)) continue;
    report.bytes += await sizeOf(join(root, 'blobs', 'sha256', hex));
    await rm(join(root, 'blobs', 'sha256', hex), { force: true });
    await rm(join(root, 'diffids', hex), { force: true });
    await removeTwins(hex);
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
    await removeTwins(d.slice(7));
    report.lazy++;
  }
  for (const name of layerNames) {
    const owner = tempOwnerPid(name);
    if (name.startsWith('tmp-') || name.startsWith('trash-')) {
      if (owner !== undefined && !pidAlive(owner)) {
        await rm(join(root, 'layers', name), { recursive: true, force: true });
        report.temp++;
      }
      continue;
    }
    if (!/^[a-f0-9]{64}$/.test(name)) continue;
    // a kept layer whose short link is missing (removed by an older prune) gets it back
    if (keepDiff.has(`sha256:${name}`)) await layers.lowerdir(`sha256:${name}` as Digest);
    else {
      await layers.removeLayer(`sha256:${name}` as Digest);
      report.layers++;
    }
  }
  await layers.cleanLinks(linkNames, keepDiff);
  // blob → diffID and diffID → gzip records: a live writer's temp file and the record of a leased digest (its
  // blob may still be downloading) stay
  for (const dir of ['diffids', 'compressed']) {
    for (const name of await list(join(root, dir))) {
      const dead = deadTemp(name);
      if (dead === false) continue;
      const d = `sha256:${name.split('.')[0]}` as Digest;
      if (dead === undefined && (keep.has(d) || keepDiff.has(d) || (await present(d)))) continue;
      await rm(join(root, dir, name), { force: true });
      if (dead) report.temp++;
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
    if (!rec || (rec.layer && !(await present(rec.layer.descriptor.digest)))) {
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
  // the last-used times of what stays, merged into one file; a prune's temp file its process left
  for (const name of await list(join(root, 'used'))) {
    if (name.startsWith('.tmp') && deadTemp(name)) await rm(join(root, 'used', name), { force: true });
  }
  await compactUsage(root, usage, (d) => keep.has(d) || keepDiff.has(d) || leased.has(d));
  // a checkout is a cache of its remote: fetched again by the next build that needs it (layers that hard-linked
  // its files keep them)
  for (const name of gitNames) {
    if (leased.has(gitCacheLease(name))) continue;
    await rm(join(gitCacheDir(root), name), { recursive: true, force: true });
    report.git++;
  }
  // a copy snapshot is made again from its layers by the next build that needs it
  for (const name of snapshotNames) {
    if (leased.has(snapshotLease(name))) continue;
    await rm(join(root, 'snapshots', name), { recursive: true, force: true });
    report.snapshots++;
  }
  report.sbom = await sweepSbomRecords(root, keepDiff, present);
  for (const name of await list(join(root, 'run'))) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && !pidAlive(pid)) {
      await rm(join(root, 'run', name), { recursive: true, force: true });
      report.temp++;
    }
  }
  return report;
}

/**
 * The builder's kept SBOM work (builder/sbom/scan-cache.ts, sbom-statement.ts): a scan goes with the top layer of
 * the chain it names (`layers`), a statement with its blob (`digest`); a record of neither form, and a dead
 * writer's temp file, go too. Caches only: whatever goes is made again by the next build that needs it.
 */
async function sweepSbomRecords(
  root: string,
  keepDiff: ReadonlySet<string>,
  present: (d: Digest) => Promise<boolean>,
): Promise<number> {
  const dir = join(root, 'builder', 'sbom-scans');
  let removed = 0;
  for (const name of await list(dir)) {
    const p = join(dir, name);
    if (name.endsWith('.tmp')) {
      const pid = Number(name.split('.').at(-2));
      if (Number.isInteger(pid) && !pidAlive(pid)) await rm(p, { force: true });
      continue;
    }
    let rec: { layers?: unknown; digest?: unknown } = {};
    try {
      rec = JSON.parse(await readFile(p, 'utf8')) as typeof rec;
    } catch {
      /* torn or gone: removed below */
    }
    const top = Array.isArray(rec.layers) ? (rec.layers.at(-1) as unknown) : undefined;
    const keep = name.endsWith('.statement.json')
      ? typeof rec.digest === 'string' && isDigest(rec.digest) && (await present(rec.digest))
      : typeof top === 'string' && keepDiff.has(top);
    if (keep) continue;
    await rm(p, { force: true });
    removed++;
  }
  return removed;
}
