// Inter-process file locks (proper-lockfile: mkdir-based, stale after the holder stops refreshing it).
import lockfile from 'proper-lockfile';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from './errors.js';

/** Runs `fn` holding the store lock `name` (locks/<name>.lock). */
export async function withLock<T>(root: string, name: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(root, 'locks');
  await mkdir(dir, { recursive: true });
  const target = join(dir, name);
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      lockfilePath: `${target}.lock`,
      stale: 10_000,
      update: 2_000,
      retries: { retries: 2000, factor: 1.3, minTimeout: 5, maxTimeout: 100 },
    });
  } catch (e) {
    throw new StoreError(`cannot take the store lock ${target}.lock: ${(e as Error).message}`, {
      path: `${target}.lock`,
      cause: e,
    });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
