// The build context as RUN --mount=type=bind sees it: filtered by .dockerignore, as BuildKit mounts it. A
// read-only overlay of the context directory under one layer of whiteouts, one whiteout per ignored path (a
// whole ignored directory is one whiteout, unless an exception re-includes something below it). Its cost is a
// walk of the context's directories plus one mknod per ignored path, once per build; a hard-link or copy farm
// would cost one link or copy per file kept, and cannot hard-link across filesystems.
import { chownSync, lstatSync, mkdirSync, readdirSync, utimesSync, chmodSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mknod, S_IFCHR } from '../store/index.js';
import type { BuildContext } from './context.js';
import { mountView, type RootfsView } from './view.js';

/** The whiteout layer of each context, made once per build (the context does not change during one). */
const layers = new WeakMap<BuildContext, Promise<string>>();

/** Opens the filtered view; a context without ignore patterns is its own view. */
export async function openContextView(ctx: BuildContext, tmpParent: string): Promise<RootfsView> {
  if (ctx.ignorePatterns.length === 0) return { dir: ctx.root, close: async () => undefined };
  let layer = layers.get(ctx);
  if (!layer) {
    layer = makeWhiteoutLayer(ctx, tmpParent);
    layers.set(ctx, layer);
  }
  const top = await layer;
  return mountView([top, ctx.root], tmpParent, 'ctxview-', 'the filtered view of the build context');
}

/** The paths under the context that .dockerignore leaves out, as whiteouts in a fresh directory. */
export async function makeWhiteoutLayer(ctx: BuildContext, tmpParent: string): Promise<string> {
  await mkdir(tmpParent, { recursive: true });
  const layer = await mkdtemp(join(tmpParent, 'ctxignore-'));
  const hasExceptions = ctx.ignorePatterns.some((p) => p.trim().startsWith('!'));
  const made = new Set<string>();
  // A directory of the layer shows over the context's own (the topmost layer's attributes win): copy them.
  const ensureDir = (rel: string): void => {
    if (made.has(rel)) return;
    if (rel !== '') ensureDir(rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
    const dst = rel === '' ? layer : join(layer, rel);
    const st = lstatSync(ctx.abs(rel));
    if (rel !== '') mkdirSync(dst);
    chmodSync(dst, st.mode & 0o7777);
    chownSync(dst, st.uid, st.gid);
    utimesSync(dst, st.atime, st.mtime);
    made.add(rel);
  };
  const walk = async (rel: string): Promise<void> => {
    // Only real directories are entered (d_type, no symlink followed): the context's own tree.
    for (const e of readdirSync(ctx.abs(rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (ctx.isIgnored(r)) {
        if (e.isDirectory() && hasExceptions && ctx.hasVisibleBelow(r)) {
          await walk(r);
          continue;
        }
        ensureDir(rel);
        mknod(join(layer, r), S_IFCHR, 0, 0);
      } else if (e.isDirectory()) await walk(r);
    }
  };
  try {
    ensureDir('');
    await walk('');
  } catch (e) {
    await rm(layer, { recursive: true, force: true });
    throw e;
  }
  // Directories made after their contents changed their mtime: set them again, deepest first.
  for (const rel of [...made].sort((a, b) => b.length - a.length)) {
    const st = lstatSync(ctx.abs(rel));
    utimesSync(rel === '' ? layer : join(layer, rel), st.atime, st.mtime);
  }
  return layer;
}
