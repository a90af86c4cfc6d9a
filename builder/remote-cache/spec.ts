// `--cache-to` / `--cache-from` values, parsed once into typed specs (BuildKit's CSV syntax):
//   type=registry,ref=HOST/REPO:TAG[,mode=min|max][,ignore-error=true]   (a bare `HOST/REPO:TAG` means the same)
//   type=local,dest=DIR | type=local,src=DIR [,tag=NAME][,mode=min|max]
//   type=inline
import { formatReference, parseReference, ImageRefError, type ImageRef } from '../../oci/index.js';

export type CacheMode = 'min' | 'max';

export type CacheSpec =
  | { type: 'registry'; ref: ImageRef; mode: CacheMode; ignoreError: boolean; text: string }
  | { type: 'local'; dest?: string; src?: string; tag: string; mode: CacheMode; ignoreError: boolean; text: string }
  | { type: 'inline'; mode: 'min'; ignoreError: boolean; text: string };

/** The ref name a local cache is tagged with when `tag=` is not given. */
export const DEFAULT_LOCAL_TAG = 'buildcache';

export class CacheSpecError extends Error {
  override name = 'CacheSpecError';
  constructor(
    readonly spec: string,
    reason: string,
  ) {
    super(`invalid cache spec "${spec}": ${reason}`);
  }
}

const KEYS: Record<CacheSpec['type'], string[]> = {
  registry: ['type', 'ref', 'mode', 'ignore-error'],
  local: ['type', 'dest', 'src', 'tag', 'mode', 'ignore-error'],
  inline: ['type', 'ignore-error'],
};

function fields(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CacheSpecError(s, `"${p}" is not KEY=VALUE`);
    const k = p.slice(0, eq).trim().toLowerCase();
    if (out.has(k)) throw new CacheSpecError(s, `${k}= given twice`);
    out.set(k, p.slice(eq + 1).trim());
  }
  return out;
}

function boolField(s: string, f: Map<string, string>, k: string): boolean {
  const v = f.get(k);
  if (v === undefined) return false;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new CacheSpecError(s, `${k}=${v}: expected true or false`);
}

function modeField(s: string, f: Map<string, string>): CacheMode {
  const m = f.get('mode') ?? 'min';
  if (m !== 'min' && m !== 'max') throw new CacheSpecError(s, `mode=${m}: expected min or max`);
  return m;
}

export function parseCacheSpec(input: string): CacheSpec {
  const s = input.trim();
  if (s === '') throw new CacheSpecError(input, 'empty');
  // docker build's legacy form: `--cache-from IMAGE`.
  const f = s.includes('=')
    ? fields(s)
    : new Map([
        ['type', 'registry'],
        ['ref', s],
      ]);
  const type = f.get('type');
  if (type === undefined) throw new CacheSpecError(s, 'type= is required (registry, local or inline)');
  if (type !== 'registry' && type !== 'local' && type !== 'inline') {
    throw new CacheSpecError(s, `type=${type} is not supported (registry, local, inline)`);
  }
  for (const k of f.keys())
    if (!KEYS[type].includes(k))
      throw new CacheSpecError(s, `${k}= does not apply to type=${type} (known: ${KEYS[type].join(', ')})`);
  const ignoreError = boolField(s, f, 'ignore-error');
  if (type === 'inline') return { type, mode: 'min', ignoreError, text: s };
  const mode = modeField(s, f);
  if (type === 'registry') {
    const refText = f.get('ref');
    if (!refText) throw new CacheSpecError(s, 'type=registry needs ref=HOST/REPO:TAG');
    let ref: ImageRef;
    try {
      ref = parseReference(refText);
    } catch (e) {
      throw new CacheSpecError(s, e instanceof ImageRefError ? e.message : String(e));
    }
    return { type, ref, mode, ignoreError, text: s };
  }
  const dest = f.get('dest');
  const src = f.get('src');
  if (!dest && !src) throw new CacheSpecError(s, 'type=local needs dest=DIR (to export) or src=DIR (to import)');
  const tag = f.get('tag') ?? DEFAULT_LOCAL_TAG;
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) throw new CacheSpecError(s, `tag=${tag} is not a valid tag`);
  return { type, ...(dest ? { dest } : {}), ...(src ? { src } : {}), tag, mode, ignoreError, text: s };
}

/** Short text for messages: `registry localhost:5000/app:buildcache`, `local /tmp/cache`, `inline`. */
export function describeSpec(spec: CacheSpec): string {
  if (spec.type === 'registry') return `registry ${formatReference(spec.ref)}`;
  if (spec.type === 'local') return `local ${spec.dest ?? spec.src}`;
  return 'inline';
}
