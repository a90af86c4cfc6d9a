// The store's RemoteBlobOpener for a command: the registry client loads only when a lazy blob is first read.
// Importing this module loads nothing else of registry-client.
import { deferredOpener, type RemoteBlobOpener } from '../oci/index.js';
import type { RegistryOptions } from './options.js';

export function registryBlobOpener(opts: RegistryOptions): RemoteBlobOpener {
  return deferredOpener(async () => (await import('./lazy-blobs.js')).remoteBlobOpener(opts));
}
