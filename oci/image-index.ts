// A multi-platform image's index: one manifest per platform, built as plain data from descriptors (the caller
// writes the bytes). Pure, so later additions to an index (attestation manifests) are one more descriptor list.
import { formatPlatform } from './platform.js';
import { MediaType, type Descriptor, type ImageIndex, type Platform } from './types.js';

/** One platform's image manifest, as the index lists it. */
export interface PlatformManifest {
  descriptor: Descriptor;
  platform: Platform;
}

export interface IndexOptions {
  /** Index-level annotations; none unless asked (so the index digest depends only on its manifests). */
  annotations?: Record<string, string>;
}

/**
 * The index over `entries`, in their order (the order of `--platform`, so the same build gives the same bytes).
 * Each entry carries its platform; two entries for one platform are refused (a puller could not choose). An OCI
 * index: a push to a registry that wants Docker's media types converts it (registry-client prepareManifest).
 */
export function makeImageIndex(entries: readonly PlatformManifest[], opts: IndexOptions = {}): ImageIndex {
  const seen = new Set<string>();
  const manifests = entries.map(({ descriptor, platform }) => {
    const key = formatPlatform(platform);
    if (seen.has(key)) throw new Error(`image index: platform ${key} is listed twice`);
    seen.add(key);
    return {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(descriptor.annotations ? { annotations: descriptor.annotations } : {}),
      platform: {
        architecture: platform.architecture,
        os: platform.os,
        ...(platform['os.version'] ? { 'os.version': platform['os.version'] } : {}),
        ...(platform['os.features'] ? { 'os.features': platform['os.features'] } : {}),
        ...(platform.variant ? { variant: platform.variant } : {}),
      },
    };
  });
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests,
    ...(opts.annotations && Object.keys(opts.annotations).length > 0 ? { annotations: opts.annotations } : {}),
  };
}

/** `linux_arm_v7`: a platform as a directory name, as buildx names the per-platform directories of a local output. */
export function platformDirName(p: Platform): string {
  return formatPlatform(p).replace(/\//g, '_');
}
