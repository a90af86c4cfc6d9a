// Store maintenance behind the commands (images, inspect, rmi, prune, save, load, import, verify): loaded on first use
// through `storeOps()` in store/index.ts, since a build never needs this code.
export { listImageRows, inspectImage, removeImage } from './images.js';
export { pruneStore, type PruneBounds, type PruneReport } from './gc.js';
export { saveImage, saveIndex } from './save.js';
export { loadArchive } from './load.js';
export { importRootfs } from './import.js';
export { verifyStore } from './verify.js';
export { readAttestations, type AttestationRecord } from './attestations.js';
export { saveIndexLayout } from './save-index.js';
