// The builder's three touch points with the remote cache, one call each:
//   build.ts, opening the store:   const store = await withRemoteCache(await openStore(root), opts, emit);
//   build.ts, after assemble():    await exportBuildCache(store, opts, image, emit);
//   cli/commands/build.ts:         --cache-from / --cache-to (repeatable) → opts.cacheFrom / opts.cacheTo
// Nothing here loads unless a build names a cache.
import type { Descriptor, Digest, ImageConfigFile } from '../../oci/index.js';
import type { RegistryOptions } from '../../registry-client/index.js';
import type { Store } from '../../store/index.js';
import type { BuildEvent } from '../events.js';
import type { BuildOptions } from '../options.js';
import type { CacheSpec } from './spec.js';

type Emit = (e: BuildEvent) => void;

function registryOpts(opts: BuildOptions): RegistryOptions {
  return { mirrors: opts.registryMirrors ?? [], insecure: opts.insecureRegistries ?? [] };
}

/** Parses every spec first, so a typo fails the build before any step runs. */
export async function parseCacheSpecs(list: string[] | undefined): Promise<CacheSpec[]> {
  if (!list || list.length === 0) return [];
  const { parseCacheSpec } = await import('./spec.js');
  return list.map(parseCacheSpec);
}

/**
 * For the CLI: checks `--cache-from`/`--cache-to` values (a bad one becomes `usage(message)`, exit 2 there) and
 * returns them as build options.
 */
export async function cacheOptions(
  from: string[],
  to: string[],
  usage: (message: string) => Error,
): Promise<Pick<BuildOptions, 'cacheFrom' | 'cacheTo'>> {
  const { CacheSpecError } = await import('./spec.js');
  try {
    await parseCacheSpecs(from);
    await parseCacheSpecs(to);
  } catch (e) {
    throw e instanceof CacheSpecError ? usage(`${e.message}`) : e;
  }
  return { ...(from.length > 0 ? { cacheFrom: from } : {}), ...(to.length > 0 ? { cacheTo: to } : {}) };
}

/** The store itself when no cache is named; else a view that consults and records the remote cache. */
export async function withRemoteCache(store: Store, opts: BuildOptions, emit?: Emit): Promise<Store> {
  if (!opts.cacheFrom?.length && !opts.cacheTo?.length) return store;
  try {
    const from = await parseCacheSpecs(opts.cacheFrom);
    await parseCacheSpecs(opts.cacheTo);
    const { RemoteCacheStore } = await import('./store-view.js');
    if (from.length === 0 || opts.noCache) return new RemoteCacheStore(store, undefined);
    const { importCache, deferredRemoteCache } = await import('./import.js');
    const warn = (message: string): void => emit?.({ type: 'log', time: Date.now(), level: 'warn', message });
    const loading = importCache(from, store, registryOpts(opts), { onWarn: warn }).then((remote) => {
      for (const s of remote.sources)
        emit?.({
          type: 'log',
          time: Date.now(),
          level: 'info',
          message: `imported cache from ${s.spec}: ${s.records} records`,
        });
      return remote;
    });
    return new RemoteCacheStore(store, deferredRemoteCache(loading));
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * After the steps: layers of cache hits that no step needed stay in the registry cache, recorded as lazy blobs
 * (fetched on first read); the local cache remembers the hits, so the next build on this machine needs no remote
 * lookup. Once per build: build.ts starts it while the image is assembled, exportBuildCache waits for it.
 */
export async function recordCacheHits(store: Store, opts: BuildOptions): Promise<void> {
  if (!opts.cacheFrom?.length && !opts.cacheTo?.length) return;
  const { RemoteCacheStore } = await import('./store-view.js');
  if (store instanceof RemoteCacheStore) await store.recordHits();
}

export interface ImageForCache {
  manifest: Descriptor;
  config: ImageConfigFile;
  configDigest: Digest;
  layers: Descriptor[];
}

/**
 * After a successful build: the image's layers that are still only in the remote cache are fetched; type=inline
 * rewrites `image` in place (its config gains the records, so its digest
 * changes); registry and local exports write the artifact. An export that fails fails the build unless the spec
 * says ignore-error=true (then it is a warning).
 */
export async function exportBuildCache(
  store: Store,
  opts: BuildOptions,
  /** The build's image, or one per platform: the records of all of them go into one cache artifact, as BuildKit's. */
  images: ImageForCache | ImageForCache[],
  emit?: Emit,
): Promise<void> {
  const all = Array.isArray(images) ? images : [images];
  if (!opts.cacheFrom?.length && !opts.cacheTo?.length) return;
  const { RemoteCacheStore } = await import('./store-view.js');
  if (!(store instanceof RemoteCacheStore)) return;
  await store.recordHits();
  for (const image of all) await store.ensureImage(image.manifest);
  if (!opts.cacheTo?.length) return;
  const specs = await parseCacheSpecs(opts.cacheTo);
  const { describeSpec } = await import('./spec.js');
  const { embedInlineCache, exportCache } = await import('./export.js');
  const finalLayers = new Set(all.flatMap((image) => image.layers.map((l) => l.digest)));
  const entries = [...store.used].map(([key, record]) => ({
    key,
    record,
    finalImage: record.layer === null || finalLayers.has(record.layer.descriptor.digest),
  }));
  const log = (level: 'info' | 'warn', message: string): void =>
    emit?.({ type: 'log', time: Date.now(), level, message });
  for (const spec of specs) {
    try {
      if (spec.type === 'inline') {
        for (const image of all) {
          const mine = new Set(image.layers.map((l) => l.digest));
          const own = entries.map((e) => ({
            ...e,
            finalImage: e.record.layer === null || mine.has(e.record.layer.descriptor.digest),
          }));
          Object.assign(image, await embedInlineCache(own, store, image));
        }
        log('info', `inline cache: ${entries.filter((e) => e.finalImage).length} records in the image config`);
        continue;
      }
      const desc = await exportCache(spec, entries, store, registryOpts(opts));
      log('info', `exported cache to ${describeSpec(spec)} (mode=${spec.mode}): ${desc.digest}`);
    } catch (e) {
      if (!spec.ignoreError) throw e;
      log('warn', `cache export to ${describeSpec(spec)} failed (ignored): ${(e as Error).message}`);
    }
  }
}
