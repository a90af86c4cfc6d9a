// Name → image: a normalized tag, `name@digest`, a manifest/index digest, or a unique prefix of a manifest or
// config digest (what `tsbuild images` shows as the id). Indexes resolve to the entry for the wanted platform.
import { isDigest } from '../oci/index.js';
import { hostPlatform, normalizeName } from '../oci/index.js';
import {
  isIndexMediaType,
  type Descriptor,
  type Digest,
  type ImageConfigFile,
  type ImageIndex,
  type ImageManifest,
} from '../oci/index.js';
import type { ImageRecord } from './api.js';
import type { BlobStore } from './blobs.js';
import { StoreError } from './errors.js';
import { readIndexFile, tagsOf } from './layout.js';
import { selectStoredPlatform } from './platform.js';

type Want = { os: string; architecture: string; variant?: string };

export class AmbiguousReferenceError extends StoreError {
  override name = 'AmbiguousReferenceError';
  constructor(prefix: string, matches: string[]) {
    super(
      `"${prefix}" matches ${matches.length} images: ${matches.slice(0, 4).join(', ')}${matches.length > 4 ? ', …' : ''}`,
    );
  }
}

function mediaTypeOf(json: { mediaType?: string; manifests?: unknown; config?: unknown }, fallback?: string): string {
  if (json.mediaType) return json.mediaType;
  if (fallback) return fallback;
  return Array.isArray(json.manifests)
    ? 'application/vnd.oci.image.index.v1+json'
    : 'application/vnd.oci.image.manifest.v1+json';
}

export async function recordFor(
  blobs: BlobStore,
  digest: Digest,
  mediaTypeHint: string | undefined,
  want: Want,
  name?: string,
  depth = 0,
): Promise<ImageRecord | undefined> {
  const json = await readManifestLike(blobs, digest);
  if (json === undefined) return undefined;
  const mt = mediaTypeOf(json, mediaTypeHint);
  if (isIndexMediaType(mt) || (Array.isArray(json.manifests) && !json.config)) {
    if (depth > 3) return undefined;
    const entry = selectStoredPlatform(json.manifests, want);
    if (!entry) return undefined;
    return recordFor(blobs, entry.digest, entry.mediaType, want, name, depth + 1);
  }
  // an image config (the image ID) has a `config` too, but not a descriptor
  if (typeof json.config?.digest !== 'string') return undefined;
  const config = JSON.parse((await blobs.read(json.config.digest)).toString('utf8')) as ImageConfigFile;
  return {
    ...(name ? { name } : {}),
    manifestDigest: digest,
    manifestMediaType: mt,
    manifest: json,
    configDigest: json.config.digest,
    config,
  };
}

/** Manifests and indexes are small JSON; a digest given by a user may name any blob (a layer, a config). */
const MAX_MANIFEST_BYTES = 4 << 20;

async function readManifestLike(blobs: BlobStore, digest: Digest): Promise<(ImageManifest & ImageIndex) | undefined> {
  if (!(await blobs.has(digest)) || (await blobs.size(digest)) > MAX_MANIFEST_BYTES) return undefined;
  try {
    const json = JSON.parse((await blobs.read(digest)).toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null ? (json as ImageManifest & ImageIndex) : undefined;
  } catch {
    return undefined;
  }
}

/** Every manifest reachable from the tags (through indexes), with the tag names that lead to it. */
export async function knownManifests(
  root: string,
  blobs: BlobStore,
): Promise<{ desc: Descriptor; names: string[]; config?: Digest }[]> {
  const out = new Map<string, { desc: Descriptor; names: string[]; config?: Digest }>();
  const visit = async (d: Descriptor, name: string | undefined, depth: number): Promise<void> => {
    if (!(await blobs.has(d.digest))) return;
    const json = JSON.parse((await blobs.read(d.digest)).toString('utf8')) as ImageManifest & ImageIndex;
    if (Array.isArray(json.manifests) && !json.config) {
      if (depth < 3) for (const m of json.manifests) await visit(m, name, depth + 1);
    }
    const e = out.get(d.digest) ?? { desc: d, names: [], ...(json.config ? { config: json.config.digest } : {}) };
    if (name && !e.names.includes(name)) e.names.push(name);
    out.set(d.digest, e);
  };
  const index = await readIndexFile(root);
  for (const m of index.manifests) await visit(m, m.annotations?.['org.opencontainers.image.ref.name'], 0);
  return [...out.values()];
}

/**
 * An image ID as docker takes it (its `truncatedID`): `sha256:` optional, then 4 to 64 hex digits. tsbuild prints
 * the full form (`build -q`, `--iidfile`), `images` the first 12.
 */
const IMAGE_ID = /^(?:sha256:)?([a-f0-9]{4,64})$/;

/**
 * docker's order: a full ID or digest is only that; a name (`name@digest`, a tag) is looked up as a name first, and
 * a word that could be a short ID (`abcd1234`) is then tried as the unique prefix of an image ID or manifest digest.
 */
export async function resolveImage(
  root: string,
  blobs: BlobStore,
  ref: string,
  platform?: Want,
): Promise<ImageRecord | undefined> {
  const want = platform ?? hostPlatform();
  const s = ref.trim();
  const id = IMAGE_ID.exec(s)?.[1];
  if (id !== undefined && id.length === 64) {
    // the ID (config digest) or manifest digest of a tagged image, else an untagged manifest or index
    const found = await resolvePrefix(root, blobs, id, want);
    return found ?? recordFor(blobs, `sha256:${id}` as Digest, undefined, want);
  }
  const at = s.indexOf('@');
  if (at >= 0) {
    const d = s.slice(at + 1);
    if (!isDigest(d)) return undefined;
    return recordFor(blobs, d, undefined, want, normalizeName(s));
  }
  let name: string | undefined;
  try {
    name = normalizeName(s);
  } catch {
    name = undefined;
  }
  const tag = name !== undefined ? tagsOf(await readIndexFile(root)).find((t) => t.name === name) : undefined;
  if (tag) return recordFor(blobs, tag.target.digest, tag.target.mediaType, want, name);
  if (id !== undefined) return (await resolvePrefix(root, blobs, id, want)) ?? undefined;
  return undefined;
}

/** null when nothing matches the prefix (so the caller may try it as a name). */
async function resolvePrefix(
  root: string,
  blobs: BlobStore,
  prefix: string,
  want: Want,
): Promise<ImageRecord | undefined | null> {
  const all = await knownManifests(root, blobs);
  const hits = new Map<string, { desc: Descriptor; names: string[] }>();
  for (const m of all) {
    if (digestHexOf(m.desc.digest).startsWith(prefix) || (m.config && digestHexOf(m.config).startsWith(prefix)))
      hits.set(m.desc.digest, m);
  }
  if (hits.size === 0) return null;
  // an index and its own entries may match together (same config): prefer what the platform selects
  const records: ImageRecord[] = [];
  for (const h of hits.values()) {
    const r = await recordFor(blobs, h.desc.digest, h.desc.mediaType, want, h.names[0]);
    if (r && !records.some((x) => x.manifestDigest === r.manifestDigest)) records.push(r);
  }
  if (records.length > 1)
    throw new AmbiguousReferenceError(
      prefix,
      records.map((r) => r.manifestDigest),
    );
  return records[0];
}

function digestHexOf(d: string): string {
  return d.startsWith('sha256:') ? d.slice(7) : d;
}
