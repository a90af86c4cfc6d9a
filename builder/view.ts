// A read-only merged view of a stack of unpacked layers (a stage's rootfs), for COPY --from, RUN bind mounts,
// --chown name lookups and destination checks. Several layers are stacked with a read-only overlay mount under the
// store's run directory, unmounted in `close()`; one layer is used as is; none is an empty directory.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mountReadonlyOverlay, overlayLowerOrder, unmountView } from '../runtime/index.js';
import type { ImageRecord } from '../store/index.js';
import type { BuildEnv, LayerRef } from './steps/types.js';

export interface RootfsView {
  dir: string;
  close(): Promise<void>;
}

/** `lowerdirs` lowest first, as the store and ContainerSpec give them. */
export async function openView(lowerdirs: string[], tmpParent: string): Promise<RootfsView> {
  await mkdir(tmpParent, { recursive: true });
  if (lowerdirs.length === 1) return { dir: lowerdirs[0]!, close: async () => undefined };
  if (lowerdirs.length === 0) {
    const dir = await mkdtemp(join(tmpParent, 'view-'));
    return { dir, close: () => rm(dir, { recursive: true, force: true }) };
  }
  return mountView(overlayLowerOrder(lowerdirs), tmpParent, 'view-', `a read-only view of ${lowerdirs.length} layers`);
}

/**
 * A read-only overlay of `lowersTopFirst` on a fresh directory under `tmpParent`; `close()` unmounts and removes it.
 * `what` names the view in the error when the mount fails.
 */
export async function mountView(
  lowersTopFirst: string[],
  tmpParent: string,
  prefix: string,
  what: string,
): Promise<RootfsView> {
  await mkdir(tmpParent, { recursive: true });
  const dir = await mkdtemp(join(tmpParent, prefix));
  try {
    mountReadonlyOverlay(lowersTopFirst, dir);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`mounting ${what} failed: ${(e as Error).message}`);
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

/** A stage's or image's filesystem: its layers (copy snapshots) and how to get their unpacked dirs (overlay). */
export interface LayersSource {
  layers: readonly LayerRef[];
  lowerdirs(): Promise<string[]>;
}

/**
 * The read-only view of `src` the build's snapshot mode gives: with copy snapshots the chain's snapshot directory
 * itself (nothing to mount or unmount; used read-only), else the overlay view of the unpacked layers.
 */
export async function openLayersView(env: BuildEnv, src: LayersSource): Promise<RootfsView> {
  if (env.snapshots) return { dir: await env.snapshots.dir(src.layers), close: async () => undefined };
  return openView(await src.lowerdirs(), env.tmpDir);
}

export async function withLayersView<T>(env: BuildEnv, src: LayersSource, fn: (dir: string) => Promise<T>): Promise<T> {
  const v = await openLayersView(env, src);
  try {
    return await fn(v.dir);
  } finally {
    await v.close();
  }
}

/** An image's layers with their diffIDs (the config's rootfs.diff_ids, in the manifest's order). */
export function imageLayers(img: ImageRecord): LayerRef[] {
  const ids = img.config.rootfs.diff_ids;
  return img.manifest.layers.map((descriptor, i) => ({ descriptor, diffID: ids[i]! }));
}
