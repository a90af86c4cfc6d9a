// Small file-system helpers: atomic writes (temp + fsync + rename), existence checks, pid liveness.
import { randomBytes } from 'node:crypto';
import { close, fsync, linkSync, open, rename, writeFile } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';

const openAsync = promisify(open);
const writeAsync = promisify(writeFile) as (fd: number, data: string | Uint8Array) => Promise<void>;
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);
const renameAsync = promisify(rename);

export function tempName(dir: string, prefix: string): string {
  return join(dir, `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to `path` atomically: a temp file in the same directory, fsynced, renamed over. */
/**
 * Writes temp → rename, so readers see the old content or the new, never a part. `durable: false` skips the fsync
 * for records that may be lost in a crash (a cache record, a derived index): after a power loss such a file may be
 * empty, and its readers must take an unreadable record for a missing one.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { durable?: boolean } = {},
): Promise<void> {
  // On the thread pool, through fs's plain calls (no FileHandle): creating a file can take a millisecond on a busy
  // ext4, which the main thread must not wait for — a build writes one record per cached step.
  const tmp = tempName(dirname(path), '.tmp');
  const fd = await openAsync(tmp, 'w', 0o644);
  try {
    try {
      await writeAsync(fd, data);
      if (opts.durable ?? true) await fsyncAsync(fd);
    } finally {
      await closeAsync(fd);
    }
    await renameAsync(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Many small records with one new file: `data` is written once (fsynced unless `durable: false`) and hard-linked
 * under each of `paths` (a directory entry each, no new inode: creating files is what costs on a busy ext4), then
 * its own temp name is removed. A path that exists already is left as it is; those are returned.
 */
export async function writeLinkedBatch(
  dir: string,
  data: string,
  paths: string[],
  opts: { durable?: boolean } = {},
): Promise<string[]> {
  const batch = tempName(dir, 'batch');
  await writeFileAtomic(batch, data, opts);
  const existing: string[] = [];
  try {
    for (const p of paths) {
      try {
        linkSync(batch, p);
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST') throw e;
        existing.push(p);
      }
    }
  } finally {
    await rm(batch, { force: true });
  }
  return existing;
}

/** Makes the directory's entries (new names, links, renames) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openAsync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    await closeAsync(fd);
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === 'ENOENT';
}

export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** `name-<pid>-<rand>` temp names: the pid of the writer, to tell live temp files from a dead writer's leftovers. */
export function tempOwnerPid(name: string): number | undefined {
  const m = /-(\d+)-[0-9a-f]{12}$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
