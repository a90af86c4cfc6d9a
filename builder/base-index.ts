// Which index a base image name was last pulled from. A pull for one platform tags the name with that platform's
// manifest and keeps the index blob; a multi-platform build pulls the name for each of its platforms, so the tag
// ends on one of them. The index, remembered here (builder/base-indexes.json in the store, a hint that may be lost),
// lets the next build find every platform it pulled without asking the registry again (all CACHED when unchanged).
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest, ImageIndex, Platform } from '../oci/index.js';
import type { ImageRecord, Store } from '../store/index.js';

type Indexes = Record<string, Digest>;

const file = (store: Store): string => join(store.root, 'builder', 'base-indexes.json');

/** The remembered indexes of one build: read once, written back by `remember`. */
export function baseIndexes(store: Store): {
  /**
   * The image of `platform` in the index `name` was last pulled from, when the store holds it and the index lists
   * `tagged` (the manifest the name points at: a later pull of one platform makes the others stale).
   */
  resolve(name: string, platform: Platform, tagged: Digest): Promise<ImageRecord | undefined>;
  remember(name: string, index: Digest): Promise<void>;
} {
  let read: Promise<Indexes> | undefined;
  const load = (): Promise<Indexes> =>
    (read ??= readFile(file(store), 'utf8').then(
      (t) => JSON.parse(t) as Indexes,
      () => ({}),
    ));
  return {
    resolve: async (name, platform, tagged) => {
      const digest = (await load().catch(() => ({}) as Indexes))[name];
      if (!digest || !(await store.blobs.has(digest))) return undefined;
      const index = JSON.parse((await store.blobs.read(digest)).toString('utf8')) as ImageIndex;
      if (!index.manifests?.some((m) => m.digest === tagged)) return undefined;
      // a pruned child, or one never pulled, is not found: the caller pulls
      return store.images.resolve(`${name.replace(/@.*$/, '')}@${digest}`, platform).catch(() => undefined);
    },
    remember: async (name, index) => {
      const known = await load().catch(() => ({}) as Indexes);
      if (known[name] === index) return;
      known[name] = index;
      // the latest build's view wins (a lost update only costs a registry round trip later)
      const tmp = `${file(store)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, JSON.stringify(known));
      await rename(tmp, file(store)).catch(async (e: unknown) => {
        await rm(tmp, { force: true });
        throw e;
      });
    },
  };
}
