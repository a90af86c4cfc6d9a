// A read-only merged view of a stack of unpacked layers (a stage's rootfs), for COPY --from, RUN bind mounts,
// --chown name lookups and destination checks. Several layers are stacked with a read-only overlay mount under the
// store's run directory, unmounted in `close()`; one layer is used as is; none is an empty directory.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { overlayLowerOrder } from '../runtime/overlay-order.js';
import { promisify } from 'node:util';

/** Runs a command to its end (child_process loads on first use: a build that exports nothing never needs it). */
const run = (file: string, args: string[]): Promise<{ stdout: string; stderr: string }> => promisify(execFile)(file, args);

export interface RootfsView {
  dir: string;
  close(): Promise<void>;
}

/** `lowerdirs` lowest first, as the store and ContainerSpec give them. */
export async function openView(lowerdirs: string[], tmpParent: string): Promise<RootfsView> {
  await mkdir(tmpParent, { recursive: true });
  if (lowerdirs.length === 1) return { dir: lowerdirs[0]!, close: async () => undefined };
  const dir = await mkdtemp(join(tmpParent, 'view-'));
  if (lowerdirs.length === 0) return { dir, close: () => rm(dir, { recursive: true, force: true }) };
  const top = overlayLowerOrder(lowerdirs);
  // mount(2) through the runtime's libc bindings (a spawned mount(8) costs milliseconds); mount(8) as a fallback.
  let libc: typeof import('../runtime/libc.js') | undefined;
  try {
    libc = await import('../runtime/libc.js');
    const opt = `lowerdir=${top.join(':')}`;
    if (opt.length < 4000) libc.mount('overlay', dir, 'overlay', libc.MS.RDONLY, opt);
    else libc.mountFs('overlay', dir, top.map((d): [string, string] => ['lowerdir+', d]), libc.MOUNT_ATTR.RDONLY);
  } catch {
    libc = undefined;
    try {
      await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${top.join(':')}`, dir]);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`mounting a read-only view of ${lowerdirs.length} layers failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    }
  }
  let closed = false;
  return {
    dir,
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        if (!libc) throw new Error('no libc');
        libc.umount2(dir, 0);
      } catch {
        await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Opens a view, runs `fn`, always closes. */
export async function withView<T>(lowerdirs: string[], tmpParent: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const v = await openView(lowerdirs, tmpParent);
  try {
    return await fn(v.dir);
  } finally {
    await v.close();
  }
}
