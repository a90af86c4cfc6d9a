// Sharing the build cache between machines through a registry (or an OCI layout directory, or inline in the image):
// BuildKit's --cache-to / --cache-from. See docs/ci-cache.md.
export {
  parseCacheSpec,
  describeSpec,
  CacheSpecError,
  DEFAULT_LOCAL_TAG,
  type CacheSpec,
  type CacheMode,
} from './spec.js';
export { exportCache, embedInlineCache, selectEntries, type CacheEntry } from './export.js';
export { importCache, deferredRemoteCache, RemoteCacheError, type RemoteCache } from './import.js';
export { RemoteCacheStore } from './store-view.js';
export { withRemoteCache, exportBuildCache, cacheOptions, parseCacheSpecs, type ImageForCache } from './hooks.js';
export {
  CACHE_CONFIG_MEDIA_TYPE,
  INLINE_CACHE_KEY,
  CacheFormatError,
  encodeCache,
  type ExportedRecord,
  type RemoteRecord,
  type CacheConfig,
} from './format.js';
