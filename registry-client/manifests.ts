// Manifest media types and the Accept header we send (platform selection in indexes is oci/platform.ts).
import { isIndexMediaType, MediaType, type ImageIndex, type ImageManifest } from '../oci/index.js';

export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

export type AnyManifest = ImageManifest | ImageIndex;

/** The media type of a manifest: the body's field, else the Content-Type, else guessed from its shape. */
export function manifestMediaType(parsed: AnyManifest, contentType: string | null): string {
  if (parsed.mediaType) return parsed.mediaType;
  const ct = contentType?.split(';')[0]?.trim();
  if (ct && ct !== 'application/json' && ct !== 'text/plain') return ct;
  return 'manifests' in parsed ? MediaType.OciIndex : MediaType.OciManifest;
}

export function isIndex(m: AnyManifest, mediaType?: string): m is ImageIndex {
  return isIndexMediaType(mediaType) || Array.isArray((m as ImageIndex).manifests);
}
