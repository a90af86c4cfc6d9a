// The oci/ part's public API: what other parts may import (scripts/lint/architecture.mjs).
export {
  deferredOpener,
  type BlobSink,
  type BlobSource,
  type RemoteBlobOpener,
  type RemoteBlobSource,
} from './blobs.js';
export {
  DEFAULT_COMPRESSION,
  compressionOfMediaType,
  layerMediaType,
  type CompressionType,
  type LayerCompression,
} from './compression.js';
export { LAYER_KEYS, mediaTypesFor, parseOutputLayers, type OutputLayers } from './output-layers.js';
export { EMPTY_LAYER_DIFF_ID, EMPTY_LAYER_GZIP, EMPTY_LAYER_GZIP_DIGEST } from './empty-layer.js';
export { DamagedContentError, damageIn, verified } from './content-check.js';
export { DigestingStream, digestHex, digestOf, isDigest } from './digest.js';
export { TsbuildError, UsageError, type ErrorOptions } from './errors.js';
export {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  parsePlatformList,
  platformRank,
  selectPlatform,
} from './platform.js';
export { makeImageIndex, platformDirName, type IndexOptions, type PlatformManifest } from './image-index.js';
export {
  ImageRefError,
  familiarName,
  formatReference,
  normalizeName,
  parseReference,
  repositoryName,
  type ImageRef,
} from './reference.js';
export { loadKoffi } from './koffi.js';
export { tee } from './stream-tee.js';
export {
  MediaType,
  isGzipLayer,
  isIndexMediaType,
  type ContainerConfig,
  type Descriptor,
  type Digest,
  type HealthConfig,
  type HistoryEntry,
  type ImageConfigFile,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from './types.js';
export {
  ATTESTATION_MANIFEST,
  IN_TOTO_MEDIA_TYPE,
  isAttestation,
  PREDICATE_TYPE_ANNOTATION,
  REFERENCE_DIGEST,
  REFERENCE_TYPE,
  SPDX_PREDICATE,
  CYCLONEDX_PREDICATE,
} from './attestation.js';
export { tlsTrust } from './tls-trust.js';
