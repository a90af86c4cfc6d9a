// The registry client's public API: pull into any PullTarget, push from any PushSource, login/logout.
// It consumes interfaces only (oci/blobs.ts); it never imports store/.
export { pullImage, type PullTarget, type PullOptions, type PullResult } from './pull.js';
export { pushImage, prepareManifest, type PushSource, type PushOptions } from './push.js';
export { login, logout } from './login.js';
export { RegistryClient } from './client.js';
export { RegistryError, DigestMismatchError } from './errors.js';
export { discardBody } from './body-limit.js';
export { resolveRegistryOptions, configFilePath, type RegistryOptions, type RegistryConfigFile } from './options.js';
export { hostPlatform, parsePlatform, formatPlatform, selectPlatform, platformRank, MANIFEST_ACCEPT } from './manifests.js';
export { lookupCredentials, storeCredentials, removeCredentials, defaultDockerConfigPath, type Credentials } from './credentials.js';
export { parseChallenges } from './auth.js';
export { OciLayout, OciLayoutError } from './oci-layout.js';
export type { TransferProgress, TransferAction, ProgressFn } from './progress.js';
export { remoteBlobOpener } from './lazy-blobs.js';
