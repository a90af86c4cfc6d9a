// The image config a build produces: the base's config carried forward, history entries in BuildKit's style
// (`RUN /bin/sh -c … # buildkit`, empty_layer for metadata steps), rootfs.diff_ids, platform fields; and the
// manifest that ties it to the layers.
import type {
  Descriptor,
  Digest,
  HealthConfig,
  HistoryEntry,
  ImageConfigFile,
  ImageManifest,
  Platform,
} from '../oci/index.js';
import { MediaType } from '../oci/index.js';

export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The config of `FROM scratch` (BuildKit gives it the default PATH and `/` as working directory). */
export function scratchConfig(platform: Platform): ImageConfigFile {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' },
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

/** Go's `%v` of a string slice (`[/bin/sh -c]`), as BuildKit writes SHELL and VOLUME in created_by. */
export function goList(xs: string[]): string {
  return `[${xs.join(' ')}]`;
}

/** Go's time.Duration.String() of `ns` nanoseconds: `0s`, `1.5s`, `1m30s`, `2h0m0s`, `500ms`, `3µs`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let u = Math.abs(Math.round(ns));
  const frac = (v: number, digits: number): string => {
    const div = 10 ** digits;
    const f = String(v % div)
      .padStart(digits, '0')
      .replace(/0+$/, '');
    return `${Math.floor(v / div)}${f ? `.${f}` : ''}`;
  };
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${frac(u, 3)}µs`;
  if (u < 1e9) return `${sign}${frac(u, 6)}ms`;
  const h = Math.floor(u / 3600e9);
  u -= h * 3600e9;
  const m = Math.floor(u / 60e9);
  u -= m * 60e9;
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${frac(u, 9)}s`;
}

/** Go's `%q` of an int (strconv.QuoteRune): `'\x00'`, `'\x03'`, `'A'`. */
export function goQuoteRune(r: number): string {
  const named: Record<number, string> = {
    7: 'a',
    8: 'b',
    9: 't',
    10: 'n',
    11: 'v',
    12: 'f',
    13: 'r',
    39: "'",
    92: '\\',
  };
  if (named[r] !== undefined) return `'\\${named[r]}'`;
  const c = String.fromCodePoint(r);
  if (r >= 0x20 && /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(c)) return `'${c}'`;
  if (r < 0x80) return `'\\x${r.toString(16).padStart(2, '0')}'`;
  if (r < 0x10000) return `'\\u${r.toString(16).padStart(4, '0')}'`;
  return `'\\U${r.toString(16).padStart(8, '0')}'`;
}

/**
 * HEALTHCHECK's created_by as BuildKit writes it (dockerfile2llb dispatchHealthcheck), Go's `%q` of its
 * HealthcheckConfig pointer: the test, the interval, timeout, start period and start interval as durations, the
 * retries as a quoted rune (`&{["CMD-SHELL" "curl x"] "5m0s" "3s" "0s" "0s" '\x00'}`).
 */
export function goHealthcheck(hc: HealthConfig): string {
  const d = (v: number | undefined): string => JSON.stringify(goDuration(v ?? 0));
  const durations = [hc.Interval, hc.Timeout, hc.StartPeriod, hc.StartInterval].map(d).join(' ');
  return `&{${goSlice(hc.Test ?? [])} ${durations} ${goQuoteRune(hc.Retries ?? 0)}}`;
}

/**
 * COPY/ADD's created_by as BuildKit writes it (dockerfile2llb dispatchCopy): --parents, --chown and --chmod as
 * given (never --from, --link or --exclude), the sources, heredocs after them as `<<NAME`, the destination as
 * written.
 */
export function copyCreatedBy(
  keyword: string,
  flags: { parents: boolean; chown: string | undefined; chmod: string | undefined },
  paths: string[],
  heredocNames: string[],
  dest: string,
): string {
  const parts = [keyword];
  if (flags.parents) parts.push('--parents');
  if (flags.chown) parts.push(`--chown=${flags.chown}`);
  if (flags.chmod) parts.push(`--chmod=${flags.chmod}`);
  parts.push(...paths, ...heredocNames.map((n) => `<<${n}`), dest);
  return `${parts.join(' ')} # buildkit`;
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
