// The layer keys of `--output` (BuildKit's image, oci and docker exporters): `compression=gzip|zstd|uncompressed`,
// `compression-level=N`, `force-compression=true|false`, `oci-mediatypes=true|false`. One function turns an
// output's raw key map into a typed spec, so the `-o` parser only hands its keys over.
import type { CompressionType, LayerCompression } from './compression.js';
import { UsageError } from './errors.js';

export interface OutputLayers {
  compression: LayerCompression;
  /** Asked for explicitly; undefined: the output's default (OCI for a push and an OCI archive). */
  ociMediaTypes?: boolean;
}

export const LAYER_KEYS = ['compression', 'compression-level', 'force-compression', 'oci-mediatypes'] as const;

/** Output types that write image layers; the rest (local, tar) write files and refuse the keys. */
const LAYERED = new Set(['image', 'registry', 'oci', 'docker']);
const MAX_LEVEL: Record<Exclude<CompressionType, 'uncompressed'>, number> = { gzip: 9, zstd: 22 };

function bool(key: string, v: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`--output ${key}=${v}: expected true or false`);
}

/** The layer spec of an output's keys; undefined when it has none of them. Throws UsageError (exit 2). */
export function parseOutputLayers(type: string, keys: Record<string, string>): OutputLayers | undefined {
  const given = LAYER_KEYS.filter((k) => keys[k] !== undefined);
  if (given.length === 0) return undefined;
  if (!LAYERED.has(type))
    throw new UsageError(`--output type=${type} does not take ${given.map((k) => `${k}=`).join(', ')}`, {
      hint: `type=${type} writes files, not image layers; layer compression applies to type=image, oci and docker`,
    });
  const raw = keys.compression ?? 'gzip';
  if (raw === 'estargz')
    throw new UsageError('--output compression=estargz is not supported by tsbuild', {
      hint: 'use compression=gzip, zstd or uncompressed',
    });
  if (raw !== 'gzip' && raw !== 'zstd' && raw !== 'uncompressed')
    throw new UsageError(`--output compression=${raw} is not supported (gzip, zstd, uncompressed)`);
  const compression: LayerCompression = { type: raw };
  const lv = keys['compression-level'];
  if (lv !== undefined) {
    if (raw === 'uncompressed')
      throw new UsageError('--output compression-level= means nothing with compression=uncompressed');
    const n = Number(lv);
    if (!/^\d+$/.test(lv) || n > MAX_LEVEL[raw])
      throw new UsageError(`--output compression-level=${lv}: ${raw} levels are 0 to ${MAX_LEVEL[raw]}`);
    compression.level = n;
  }
  if (keys['force-compression'] !== undefined) compression.force = bool('force-compression', keys['force-compression']);
  const oci = keys['oci-mediatypes'];
  if (oci !== undefined && type === 'docker')
    throw new UsageError('--output type=docker does not take oci-mediatypes= in tsbuild', {
      hint: 'a docker archive (docker save format) carries no media types; use type=oci for an OCI layout',
    });
  const ociMediaTypes = oci === undefined ? undefined : bool('oci-mediatypes', oci);
  if (ociMediaTypes === false && type === 'oci')
    throw new UsageError('--output type=oci does not take oci-mediatypes=false in tsbuild', {
      hint: 'an OCI archive is written with OCI media types; push with type=image,oci-mediatypes=false for Docker ones',
    });
  return { compression, ...(ociMediaTypes !== undefined ? { ociMediaTypes } : {}) };
}

/**
 * The media types a push uses: Docker's have no zstd layer, so zstd with oci-mediatypes=false turns OCI types on
 * with a warning, as BuildKit does ("forcibly turning on oci-mediatype mode").
 */
export function mediaTypesFor(layers: OutputLayers): { ociMediaTypes?: boolean; warning?: string } {
  if (layers.ociMediaTypes === false && layers.compression.type === 'zstd')
    return {
      ociMediaTypes: true,
      warning: 'compression=zstd needs OCI media types: forcibly turning on oci-mediatypes (as BuildKit)',
    };
  return layers.ociMediaTypes !== undefined ? { ociMediaTypes: layers.ociMediaTypes } : {};
}
