// Leases: files under leases/ naming digests a live process is using. `prune` keeps every digest a lease names
// whose process is alive; a dead process's lease is stale and ignored (and removed by prune).
import { closeSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Digest } from '../oci/types.js';
import { pidAlive } from './fsutil.js';

export class Leases {
  private readonly autoFile: string;
  private readonly autoSeen = new Set<string>();
  /**
   * The auto lease stays open for appends: one write per touch instead of open, write, close. Synchronous: a few
   * bytes into the page cache cost less than a trip through the thread pool, and a touch is on the path of every
   * cache lookup.
   */
  private autoFd: number | undefined;

  constructor(private readonly root: string) {
    this.autoFile = join(root, 'leases', `${process.pid}-${randomBytes(6).toString('hex')}.auto`);
  }

  /** Records digests this store instance wrote or uses (one line each), before they become visible. */
  async touch(digests: (Digest | string)[]): Promise<void> {
    const fresh = digests.filter((d) => !this.autoSeen.has(d));
    if (fresh.length === 0) return;
    for (const d of fresh) this.autoSeen.add(d);
    this.autoFd ??= openSync(this.autoFile, 'a');
    writeSync(this.autoFd, fresh.map((d) => `${d}\n`).join(''));
  }

  async lease(digests: Digest[]): Promise<() => Promise<void>> {
    const file = join(this.root, 'leases', `${process.pid}-${randomBytes(6).toString('hex')}.lease`);
    await writeFile(file, digests.map((d) => `${d}\n`).join(''));
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
    await rm(this.autoFile, { force: true });
  }
}

/** Every digest (or diffID) named by a live lease; removes the leases of dead processes. */
export async function liveLeasedDigests(root: string): Promise<Set<string>> {
  const dir = join(root, 'leases');
  const out = new Set<string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || !pidAlive(pid)) {
      await rm(join(dir, name), { force: true });
      continue;
    }
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line) out.add(line);
  }
  return out;
}
