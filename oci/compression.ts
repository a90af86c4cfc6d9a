// Layer compression as an output asks for it (`compression=`, `compression-level=`, `force-compression=` and
// `oci-mediatypes=` on `--output`, as BuildKit's exporters): the typed spec that the builder hands to a push or an
// archive, and the media types each compression has.
import { MediaType } from './types.js';

export type CompressionType = 'gzip' | 'zstd' | 'uncompressed';

export interface LayerCompression {
  type: CompressionType;
  /** gzip 0–9, zstd 0–22 (BuildKit's ranges); undefined: the compressor's default. */
  level?: number;
  /** Recompress layers that already have another compression (a base image's gzip layers). */
  force?: boolean;
}

/** What a push or an archive writes when nothing is asked: gzip, as BuildKit. */
export const DEFAULT_COMPRESSION: LayerCompression = { type: 'gzip' };

/** The compression a layer media type says its blob has. */
export function compressionOfMediaType(mt: string): CompressionType {
  if (mt.endsWith('+zstd')) return 'zstd';
  if (mt.endsWith('+gzip') || mt.endsWith('.tar.gzip')) return 'gzip';
  return 'uncompressed';
}

/** The layer media type for a compression, OCI or Docker (Docker has no zstd type: the OCI one is used). */
export function layerMediaType(type: CompressionType, docker: boolean): string {
  if (type === 'zstd') return MediaType.OciLayerZstd;
  if (type === 'gzip') return docker ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip;
  return docker ? MediaType.DockerLayer : MediaType.OciLayer;
}
