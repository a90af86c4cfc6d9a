// Leases: files under leases/ naming digests a live process is using. `prune` keeps every digest a lease names
// whose process is alive; a dead process's lease is stale and ignored (and removed by prune). An auto lease that
// ends (its store closed, or its process dead) becomes a record of use in used/ (usage.ts), for prune's LRU bounds.
//
// A lease only protects what it names before a prune reads the leases, so a prune announces itself first
// (locks/gc.state: a count of prunes, and the pid of the one marking and sweeping now), as containerd's garbage
// collector and lease creation exclude each other. After a process writes a new lease it waits out a prune that is
// running (that prune may have read the leases already); whatever it finds in the store after that stays until
// its lease ends. A decision taken before the lease (an image resolved, then leased) is taken again when a prune
// started in between (Leases.hold).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Digest } from '../oci/index.js';
import { pidAlive, writeFileAtomic } from './fsutil.js';
import { mtimeOf, recordUse } from './usage.js';

/** How often a process waiting for a prune to finish looks again. */
const SETTLE_POLL_MS = 20;

export interface GcState {
  /** Prunes begun on this store (by the file's count; 0 when none ever ran). */
  epoch: number;
  /** The pid of the prune marking and sweeping now, if any. */
  pid?: number;
  /** That process's start time (/proc/<pid>/stat), so that a reused pid is not taken for a prune that died. */
  start?: string;
}

function statePath(root: string): string {
  return join(root, 'locks', 'gc.state');
}

/** A process's start time in clock ticks since boot, or undefined when it does not exist. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The store's prune state, read without the thread pool (it is read after each new lease). */
export function readGcState(root: string): GcState {
  let text: string;
  try {
    text = readFileSync(statePath(root), 'utf8');
  } catch {
    return { epoch: 0 };
  }
  const [epoch, pid, start] = text.trim().split(' ');
  const n = Number(epoch);
  return {
    epoch: Number.isInteger(n) ? n : 0,
    ...(pid !== undefined && /^\d+$/.test(pid) ? { pid: Number(pid) } : {}),
    ...(start ? { start } : {}),
  };
}

/** A prune named by the state is running in another process (not one that died, nor a new process with its pid). */
function otherPruneRunning(state: GcState): boolean {
  if (state.pid === undefined || state.pid === process.pid || !pidAlive(state.pid)) return false;
  return state.start === undefined || startTime(state.pid) === state.start;
}

/**
 * Announces a prune (called holding the gc lock, before it lists or reads anything): bumps the count and names
 * this process. Returns the function that ends it, after the last deletion.
 */
export async function beginCollection(root: string): Promise<() => Promise<void>> {
  const epoch = readGcState(root).epoch + 1;
  // No fsync: after a crash nothing runs, and a torn file reads as "no prune running".
  await writeFileAtomic(statePath(root), `${epoch} ${process.pid} ${startTime(process.pid) ?? ''}\n`, {
    durable: false,
  });
  return () => writeFileAtomic(statePath(root), `${epoch}\n`, { durable: false });
}

/**
 * Waits until no other process is pruning the store (a prune that died is not waited for); returns the count of
 * prunes as read then.
 */
export async function settle(root: string): Promise<number> {
  for (;;) {
    const state = readGcState(root);
    if (!otherPruneRunning(state)) return state.epoch;
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }
}

export class Leases {
  private readonly autoFile: string;
  private readonly autoSeen = new Set<string>();
  /**
   * The auto lease stays open for appends: one write per touch instead of open, write, close. Synchronous: a few
   * bytes into the page cache cost less than a trip through the thread pool, and a touch is on the path of every
   * cache lookup.
   */
  private autoFd: number | undefined;

  /** `recordUse`: on close, the auto lease becomes the instance's record of use (usage.ts) instead of going. */
  constructor(
    private readonly root: string,
    private readonly recordsUse = true,
  ) {
    this.autoFile = join(root, 'leases', `${process.pid}-${randomBytes(6).toString('hex')}.auto`);
  }

  /**
   * Records digests this store instance wrote or uses (one line each), held until the instance closes. Call it
   * before relying on them (before checking that they exist, before placing them): when it returns, no prune that
   * missed them is running, so what exists now stays.
   */
  async touch(digests: (Digest | string)[]): Promise<void> {
    const fresh = digests.filter((d) => !this.autoSeen.has(d));
    if (fresh.length === 0) return;
    for (const d of fresh) this.autoSeen.add(d);
    this.autoFd ??= openSync(this.autoFile, 'a');
    writeSync(this.autoFd, fresh.map((d) => `${d}\n`).join(''));
    await settle(this.root);
  }

  /**
   * Runs `decide` (which reads the store: an image resolved by name) and leases what it returns, then makes sure
   * no prune began between the two; if one did, it may have deleted what `decide` saw, so `decide` runs again
   * (its earlier result is leased by then, so a second prune cannot take it).
   */
  async hold<T>(decide: () => Promise<T>, digestsOf: (result: T) => (Digest | string)[]): Promise<T> {
    for (;;) {
      // leased before the count is read: a prune counted after it has seen them
      const seen = new Set(this.autoSeen);
      const before = await settle(this.root);
      const result = await decide();
      const digests = digestsOf(result);
      await this.touch(digests);
      if ((await settle(this.root)) === before || digests.every((d) => seen.has(d))) return result;
    }
  }

  async lease(digests: Digest[]): Promise<() => Promise<void>> {
    const file = join(this.root, 'leases', `${process.pid}-${randomBytes(6).toString('hex')}.lease`);
    await writeFile(file, digests.map((d) => `${d}\n`).join(''));
    await settle(this.root);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await rm(file, { force: true });
    };
  }

  async close(): Promise<void> {
    const fd = this.autoFd;
    this.autoFd = undefined;
    if (fd !== undefined) closeSync(fd);
    if (fd !== undefined && this.recordsUse) await recordUse(this.root, this.autoFile);
    else await rm(this.autoFile, { force: true });
  }
}

/** Every digest (or diffID) named by a live lease; removes the leases of dead processes. */
export async function liveLeasedDigests(root: string): Promise<Set<string>> {
  const dir = join(root, 'leases');
  const out = new Set<string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || !pidAlive(pid)) {
      // what a dead process used counts as used when it last wrote its lease
      const t = name.endsWith('.auto') ? await mtimeOf(join(dir, name)) : undefined;
      if (t !== undefined) await recordUse(root, join(dir, name), t);
      else await rm(join(dir, name), { force: true });
      continue;
    }
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line) out.add(line);
  }
  return out;
}
