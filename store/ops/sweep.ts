// What killed or failed commands leave behind, removed by the next command that opens the store (not only by
// prune): partial blobs (tmp/blob-<pid>-…), half-unpacked layers (layers/tmp-<pid>-…), container dirs
// (run/<pid>-…) and build scratch dirs (builder/tmp/<pid>-…) whose read-only views may still be mounted in the host
// namespace (builder/view.ts). Temp names carry their writer's pid, so one readdir per directory tells a dead
// writer's leftovers from a live one's, without a lock. Mounts are handled as runtime/rundir.ts cleanupStaleMounts
// does: detached deepest first, then the directory removed.
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pidAlive, tempName, tempOwnerPid } from '../fsutil.js';
import { unmountDetached } from '../xattr.js';

/** Leading `<pid>-` of a directory name (run/, builder/tmp/). */
function leadingPid(name: string): number | undefined {
  const m = /^(\d+)-/.exec(name);
  return m ? Number(m[1]) : undefined;
}

const dead = (pid: number | undefined): boolean => pid !== undefined && pid > 0 && !pidAlive(pid);

async function list(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/** Mount points from /proc/self/mountinfo (octal escapes decoded). */
function mountPoints(): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/** Detaches every mount at or under one of `dirs`, deepest first. */
async function unmountUnder(dirs: string[]): Promise<void> {
  const under = mountPoints()
    .filter((m) => dirs.some((d) => m === d || m.startsWith(d + '/')))
    .sort((a, b) => b.length - a.length);
  if (under.length === 0) return;
  for (const m of under) {
    try {
      unmountDetached(m);
    } catch {
      // gone with its parent, or not ours to drop: the rm below says so if it matters
    }
  }
}

/** Build scratch dirs of dead builds: their views unmounted, then removed. */
export async function sweepBuilderTemps(root: string): Promise<number> {
  const dir = join(root, 'builder', 'tmp');
  const stale = (await list(dir)).filter((n) => dead(leadingPid(n))).map((n) => join(dir, n));
  if (stale.length === 0) return 0;
  await unmountUnder(stale);
  for (const d of stale) await rm(d, { recursive: true, force: true }).catch(() => undefined);
  return stale.length;
}

/**
 * Everything dead processes left in the store's temp places. Cheap enough for every command: a readdir of tmp/,
 * layers/, run/, snapshots/ and builder/tmp/ and the root, and a liveness check per temp name; best effort (a
 * failure here must not stop the command: prune removes the same later).
 */
export async function sweepDeadTemps(root: string): Promise<void> {
  const jobs: Promise<unknown>[] = [];
  const remove = (p: string): void => void jobs.push(rm(p, { recursive: true, force: true }).catch(() => undefined));
  for (const n of await list(join(root, 'tmp'))) if (dead(tempOwnerPid(n))) remove(join(root, 'tmp', n));
  for (const n of await list(join(root, 'layers'))) {
    if ((n.startsWith('tmp-') || n.startsWith('trash-')) && dead(tempOwnerPid(n))) remove(join(root, 'layers', n));
  }
  for (const n of await list(join(root, 'run'))) if (dead(leadingPid(n))) remove(join(root, 'run', n));
  // a copy snapshot being made, or a RUN's scratch tree (store/snapshots.ts)
  for (const n of await list(join(root, 'snapshots'))) {
    if (n.startsWith('tmp-') && dead(tempOwnerPid(n))) remove(join(root, 'snapshots', n));
  }
  // an index.json (or other top-level file) rewrite cut short
  for (const n of await list(root)) if (n.startsWith('.tmp-') && dead(tempOwnerPid(n))) remove(join(root, n));
  jobs.push(sweepBuilderTemps(root).catch(() => undefined));
  await Promise.all(jobs);
}

/** Open stores of this process, per root: own temp files are swept when the last one closes. */
const open = new Map<string, number>();

/** openStore's hook: counts this instance, and sweeps what dead processes left. */
export async function onStoreOpen(root: string): Promise<void> {
  open.set(root, (open.get(root) ?? 0) + 1);
  await sweepDeadTemps(root).catch(() => undefined);
}

/**
 * Store.close's hook: once no instance of this process has the store open, whatever temp files of this pid remain
 * are partial writes a failed command abandoned (a pull whose other downloads were still running when one failed).
 */
export async function onStoreClose(root: string): Promise<void> {
  const n = (open.get(root) ?? 1) - 1;
  if (n > 0) {
    open.set(root, n);
    return;
  }
  open.delete(root);
  const mine = (name: string): boolean => tempOwnerPid(name) === process.pid;
  const jobs: Promise<unknown>[] = [];
  for (const n of await list(join(root, 'tmp')))
    if (mine(n)) jobs.push(rm(join(root, 'tmp', n), { recursive: true, force: true }).catch(() => undefined));
  for (const n of await list(join(root, 'layers')))
    if (n.startsWith('tmp-') && mine(n))
      jobs.push(rm(join(root, 'layers', n), { recursive: true, force: true }).catch(() => undefined));
  await Promise.all(jobs);
}

/**
 * Temp name of an archive being written to `dest` (save, --output): beside it (the rename must stay on one file
 * system), hidden, naming the destination and the writer's pid, so the next write to the same destination can tell
 * a killed writer's leftover from a live one's.
 */
export function archiveTempName(dest: string): string {
  return tempName(dirname(dest), `.${basename(dest)}.tsbuild-save`);
}

/** Removes temp files of dead writers to `dest` (see archiveTempName). */
export async function sweepArchiveTemps(dest: string): Promise<void> {
  const prefix = `.${basename(dest)}.tsbuild-save-`;
  for (const n of await list(dirname(dest))) {
    if (n.startsWith(prefix) && dead(tempOwnerPid(n)))
      await rm(join(dirname(dest), n), { force: true }).catch(() => undefined);
  }
}
