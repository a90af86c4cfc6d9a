// A read-only merged view of a stack of unpacked layers (a stage's rootfs), for COPY --from, RUN bind mounts,
// --chown name lookups and destination checks. Several layers are stacked with a read-only overlay mount under the
// store's run directory, unmounted in `close()`; one layer is used as is; none is an empty directory.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mountReadonlyOverlay, overlayLowerOrder, unmountView } from '../runtime/index.js';

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
  try {
    mountReadonlyOverlay(overlayLowerOrder(lowerdirs), dir);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mounting a read-only view of ${lowerdirs.length} layers failed: ${(e as Error).message}`);
  }
  let closed = false;
  return {
    dir,
    close: async () => {
      if (closed) return;
      closed = true;
      unmountView(dir);
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
