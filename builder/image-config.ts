// The image config a build produces: the base's config carried forward, history entries in BuildKit's style
// (`RUN /bin/sh -c … # buildkit`, empty_layer for metadata steps), rootfs.diff_ids, platform fields; and the
// manifest that ties it to the layers.
import type { Descriptor, Digest, HistoryEntry, ImageConfigFile, ImageManifest, Platform } from '../oci/index.js';
import { MediaType } from '../oci/index.js';

export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The config of `FROM scratch` (BuildKit gives it the default PATH). */
export function scratchConfig(platform: Platform): ImageConfigFile {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: [`PATH=${DEFAULT_PATH}`] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

export function cloneConfig(c: ImageConfigFile): ImageConfigFile {
  return JSON.parse(JSON.stringify(c)) as ImageConfigFile;
}

export function historyEntry(createdBy: string, created: string, emptyLayer: boolean): HistoryEntry {
  return { created, created_by: createdBy, comment: HISTORY_COMMENT, ...(emptyLayer ? { empty_layer: true } : {}) };
}

/** Go's `%q`-ish rendering of a string slice, as BuildKit writes CMD/ENTRYPOINT in created_by. */
export function goSlice(xs: string[]): string {
  return `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;
}

/** Docker keeps layer media types consistent with the manifest type: OCI manifests get OCI layer types. */
export function ociLayerDescriptor(d: Descriptor): Descriptor {
  const map: Record<string, string> = {
    [MediaType.DockerLayer]: MediaType.OciLayer,
    [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  };
  const mediaType = map[d.mediaType] ?? d.mediaType;
  return { mediaType, digest: d.digest, size: d.size };
}

/** Env helpers over Docker's `KEY=VALUE` list. */
export function getEnv(env: string[] | undefined, key: string): string | undefined {
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if ((eq < 0 ? e : e.slice(0, eq)) === key) return eq < 0 ? '' : e.slice(eq + 1);
  }
  return undefined;
}

export function setEnv(env: string[] | undefined, key: string, value: string): string[] {
  const out = [...(env ?? [])];
  const i = out.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

/**
 * Where each key sits in an Env list, made once per list and kept current by setEnvInPlace: ENV and every word
 * expansion look variables up per instruction, and a Buildfile of a million ENV lines must not rescan (or copy)
 * the list each time.
 */
interface EnvIndex {
  length: number;
  at: Map<string, number>;
}
const envIndexes = new WeakMap<string[], EnvIndex>();

function keyOf(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

function indexOfEnv(env: string[]): EnvIndex {
  let ix = envIndexes.get(env);
  // a list that grew or shrank by other means than setEnvInPlace is indexed again
  if (ix && ix.length === env.length) return ix;
  ix = { length: env.length, at: new Map() };
  env.forEach((e, i) => ix!.at.set(keyOf(e), i));
  envIndexes.set(env, ix);
  return ix;
}

/** The value of `key` in an Env list (the last entry wins, as in envMap). */
export function envValue(env: string[] | undefined, key: string): string | undefined {
  if (!env) return undefined;
  let i = indexOfEnv(env).at.get(key);
  if (i !== undefined && keyOf(env[i]!) !== key) {
    // an entry was replaced by other means: index again
    envIndexes.delete(env);
    i = indexOfEnv(env).at.get(key);
  }
  if (i === undefined) return undefined;
  const e = env[i]!;
  const eq = e.indexOf('=');
  return eq < 0 ? '' : e.slice(eq + 1);
}

/** setEnv without the copy: replaces the entry of `key` or appends one, in constant time. */
export function setEnvInPlace(env: string[], key: string, value: string): void {
  const ix = indexOfEnv(env);
  const i = ix.at.get(key);
  if (i !== undefined && keyOf(env[i]!) === key) {
    env[i] = `${key}=${value}`;
    return;
  }
  if (i !== undefined) {
    envIndexes.delete(env);
    return setEnvInPlace(env, key, value);
  }
  ix.at.set(key, env.length);
  env.push(`${key}=${value}`);
  ix.length = env.length;
}

export function envMap(env: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq < 0) m.set(e, '');
    else m.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return m;
}

export function makeManifest(config: Descriptor, layers: Descriptor[]): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
    layers: layers.map(ociLayerDescriptor),
  };
}

export function finalConfig(c: ImageConfigFile, created: string, diffIDs: Digest[]): ImageConfigFile {
  const out = cloneConfig(c);
  out.created = created;
  out.rootfs = { type: 'layers', diff_ids: diffIDs };
  return out;
}
