// The part of the registry client that talks HTTP and moves bytes (node-fetch, p-queue, pull, push, login,
// layouts), loaded on first use through `loadRegistryClient()` in index.ts: a fully cached build never needs it.
// Everything of index.ts too, so tests and lazily loaded callers have one module to import.
export * from './index.js';
export { pullImage } from './pull.js';
export { pushImage, prepareManifest } from './push.js';
export { login, logout } from './login.js';
export { RegistryClient } from './client.js';
export { discardBody } from './body-limit.js';
export { lookupCredentials, storeCredentials, removeCredentials, defaultDockerConfigPath } from './credentials.js';
export { parseChallenges } from './auth.js';
export { OciLayout, OciLayoutError } from './oci-layout.js';
export { remoteBlobOpener } from './lazy-blobs.js';
export { downloadBlob } from './blob-stream.js';
export { getManifest, manifestByDigest } from './manifest-fetch.js';
export { uploadBlob } from './upload.js';
export { pushReferrers, referrersTag } from './referrers.js';
