// The registry client's public API. It consumes interfaces only (oci/blobs.ts); it never imports store/.
// What loads with this index is light (errors, options, progress text, the store's lazy-blob
// opener); the HTTP client and everything that moves bytes load on first use through `loadRegistryClient()`, since a
// fully cached build never reaches a registry.
export { RegistryError, DigestMismatchError } from './errors.js';
export {
  resolveRegistryOptions,
  configFilePath,
  type RegistryOptions,
  type RegistryConfigFile,
  type RetryNotice,
} from './options.js';
export { isIndex, MANIFEST_ACCEPT } from './manifests.js';
export { describeRetry, type TransferProgress, type TransferAction, type ProgressFn } from './progress.js';
export { registryBlobOpener } from './lazy-opener.js';
export type { PullTarget, PullOptions, PullResult } from './pull.js';
export type { PushSource, PushOptions, PushOutput } from './push.js';
export type { Credentials } from './credentials.js';
export type { Repo, RegistryClient } from './client.js';
export type { OciLayout } from './oci-layout.js';

/** Pull, push, login, the HTTP client and OCI layouts: loaded when first needed. */
export const loadRegistryClient = (): Promise<typeof import('./api.js')> => import('./api.js');
