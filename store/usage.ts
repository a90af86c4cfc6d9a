// Last-used times, for `prune --keep-storage` and `--filter until=` (least recently used first). A store instance's
// auto lease already lists every digest it used (base images resolved, cache hits' layers, layers committed, images
// tagged, pushed or run): when the instance closes, that file is renamed into used/ under the time, instead of being
// deleted. So a build records its use with the one rename that used to be an unlink, never a write per lookup.
//
//   used/<epoch ms>-<pid>-<rand>.auto   a closed instance's lease: one digest per line, used at that time
//   used/last-used                      "<digest> <epoch ms>" per line: what prune merged (written by prune only,
//                                       under the gc lock, temp → rename)
//
// Prune merges the first kind into the second and removes the files it merged; a file renamed in meanwhile is
// merged by the next prune.
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from './fsutil.js';

const LAST_USED = 'last-used';

function usedDir(root: string): string {
  return join(root, 'used');
}

/** Moves a closed lease into used/, stamped with `time`; removes it when that fails (a store without used/). */
export async function recordUse(root: string, leaseFile: string, time = Date.now()): Promise<void> {
  try {
    await rename(leaseFile, join(usedDir(root), `${Math.floor(time)}-${basename(leaseFile)}`));
  } catch {
    await rm(leaseFile, { force: true });
  }
}

export interface Usage {
  /** digest → the last time a store instance used it (epoch ms). */
  times: Map<string, number>;
  /** The per-instance files read (merged into last-used by compactUsage). */
  merged: string[];
}

function note(times: Map<string, number>, digest: string, t: number): void {
  if (!digest || !Number.isFinite(t)) return;
  if ((times.get(digest) ?? -Infinity) < t) times.set(digest, t);
}

export async function readUsage(root: string): Promise<Usage> {
  const dir = usedDir(root);
  const times = new Map<string, number>();
  const merged: string[] = [];
  const text = await readFile(join(dir, LAST_USED), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [d, t] = line.split(' ');
    if (d && t) note(times, d, Number(t));
  }
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = /^(\d+)-.*\.auto$/.exec(name);
    if (!m) continue;
    const body = await readFile(join(dir, name), 'utf8').catch(() => undefined);
    if (body === undefined) continue;
    for (const d of body.split('\n')) note(times, d, Number(m[1]));
    merged.push(name);
  }
  return { times, merged };
}

/** Writes the merged times of the digests still in the store, then removes the files merged. */
export async function compactUsage(root: string, usage: Usage, kept: (digest: string) => boolean): Promise<void> {
  const lines: string[] = [];
  for (const [d, t] of usage.times) if (kept(d)) lines.push(`${d} ${t}\n`);
  // nothing new and nothing gone (a prune loop on a quiet store): no write
  if (usage.merged.length === 0 && lines.length === usage.times.size) return;
  await writeFileAtomic(join(usedDir(root), LAST_USED), lines.join(''), { durable: false });
  for (const name of usage.merged) await rm(join(usedDir(root), name), { force: true });
}

/** A file's modification time (epoch ms), for what was never recorded as used (a store older than used/). */
export async function mtimeOf(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.mtimeMs,
    () => undefined,
  );
}
