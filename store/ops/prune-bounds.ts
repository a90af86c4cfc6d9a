// `prune --keep-storage SIZE` and `--filter until=DURATION`: which tags to remove before the mark, least recently
// used first, as BuildKit prunes its cache records. The unit is a tag of index.json: what it reaches (manifests,
// config, layer blobs, their unpacked layers and gzip twins) is what removing it can free; a layer another kept tag
// or a live lease reaches stays, and build cache records go with their layers as in every prune.
//
// An image's last use is the latest time a store instance used its manifest (usage.ts), or when the manifest was
// written when no use was ever recorded. An image a live process holds is in use now: never a candidate. With both
// bounds, as BuildKit: only images unused for longer than DURATION go, and only while the store is over SIZE.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest } from '../../oci/index.js';
import type { Digest, Descriptor } from '../../oci/index.js';
import type { Store } from '../api.js';
import { mtimeOf, type Usage } from '../usage.js';
import { emptyReach, reachFrom } from './reach.js';

export interface PruneBounds {
  /** Remove least recently used images until what the kept ones take is at most this many bytes. */
  keepStorage?: number;
  /** Remove only images unused for longer than this many milliseconds. */
  untilMs?: number;
}

export interface Eviction {
  name: string;
  target: Descriptor;
  lastUsed: number;
}

interface Closure {
  /** Everything the tag keeps: blob digests and diffIDs. */
  digests: Set<string>;
  /** The manifests and indexes among them (what a use of the image leases). */
  manifests: Set<string>;
}

async function fileSize(p: string): Promise<number> {
  return stat(p).then(
    (s) => s.size,
    () => 0,
  );
}

/** An unpacked layer's size: the sum of the sizes its tree record lists (one line per entry, size 5th). */
async function layerSize(root: string, hex: string): Promise<number> {
  const text = await readFile(join(root, 'layers', hex, 'tree'), 'utf8').catch(() => '');
  let n = 0;
  for (const line of text.split('\n')) {
    const size = Number(line.split('\t')[4]);
    if (Number.isFinite(size) && size > 0) n += size;
  }
  return n;
}

class Graph {
  private readonly closures = new Map<string, Promise<Closure>>();
  private readonly sizes = new Map<string, Promise<number>>();

  constructor(private readonly store: Store) {}

  closure(d: string): Promise<Closure> {
    let c = this.closures.get(d);
    if (!c) {
      c = this.walk(d);
      this.closures.set(d, c);
    }
    return c;
  }

  /** Bytes on disk under a digest: its blob and, for a diffID, its unpacked layer. */
  size(d: string): Promise<number> {
    let s = this.sizes.get(d);
    if (!s) {
      const hex = d.slice(7);
      s = Promise.all([fileSize(this.store.blobs.path(d as Digest)), layerSize(this.store.root, hex)]).then(
        ([a, b]) => a + b,
      );
      this.sizes.set(d, s);
    }
    return s;
  }

  async total(closures: Closure[]): Promise<number> {
    const all = new Set<string>();
    for (const c of closures) for (const d of c.digests) all.add(d);
    let n = 0;
    for (const d of all) n += await this.size(d);
    return n;
  }

  /** The prune's mark (reach.ts) from one digest, with the gzip twins of what it reaches. */
  private async walk(root: string): Promise<Closure> {
    const reach = emptyReach();
    await reachFrom(this.store, root, reach);
    const out: Closure = { digests: new Set([...reach.blobs, ...reach.diffIDs]), manifests: reach.manifests };
    for (const d of [...out.digests]) {
      if (!isDigest(d)) continue;
      const gz = (await readFile(join(this.store.root, 'compressed', d.slice(7)), 'utf8').catch(() => '')).trim();
      if (isDigest(gz)) out.digests.add(gz);
    }
    return out;
  }
}

/** The tags to remove, least recently used first. */
export async function selectEvictions(
  store: Store,
  tags: { name: string; target: Descriptor }[],
  leased: Set<string>,
  usage: Usage,
  bounds: PruneBounds,
  now = Date.now(),
): Promise<Eviction[]> {
  const graph = new Graph(store);
  const entries = await Promise.all(
    tags.map(async (t) => {
      const c = await graph.closure(t.target.digest);
      const heads = [t.target.digest, ...c.manifests];
      const used = heads.map((d) => usage.times.get(d) ?? -Infinity);
      let lastUsed = Math.max(...used);
      if (lastUsed === -Infinity) lastUsed = (await mtimeOf(store.blobs.path(t.target.digest))) ?? 0;
      return { ...t, closure: c, lastUsed, inUse: heads.some((d) => leased.has(d)) };
    }),
  );
  const cutoff = bounds.untilMs !== undefined ? now - bounds.untilMs : Infinity;
  const candidates = entries
    .filter((e) => !e.inUse && e.lastUsed < cutoff)
    .sort((a, b) => a.lastUsed - b.lastUsed || a.name.localeCompare(b.name));
  if (bounds.keepStorage === undefined)
    return candidates.map(({ name, target, lastUsed }) => ({ name, target, lastUsed }));

  // What stays whatever happens: every lease's reach.
  const pinned = await Promise.all([...leased].filter(isDigest).map((d) => graph.closure(d)));
  const kept = new Set(entries);
  const out: Eviction[] = [];
  for (const c of candidates) {
    if ((await graph.total([...pinned, ...[...kept].map((e) => e.closure)])) <= bounds.keepStorage) break;
    kept.delete(c);
    out.push({ name: c.name, target: c.target, lastUsed: c.lastUsed });
  }
  return out;
}
