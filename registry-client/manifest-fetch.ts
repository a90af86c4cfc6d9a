// Resolving a tag or digest to manifest bytes with as few pulls counted as possible: HEAD the tag (Docker Hub
// does not count HEADs), reuse the bytes when the target already has that digest, else GET by digest; the digest
// is always checked against the content, never taken from a header alone.
import { digestOf } from '../oci/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import type { Repo } from './client.js';
import { readBodyLimited } from './body-limit.js';
import { DigestMismatchError, RegistryError } from './errors.js';
import { MANIFEST_ACCEPT, manifestMediaType, type AnyManifest } from './manifests.js';

/** Docker's limit too: a manifest lists descriptors, a few kB even for a large index. */
export const MAX_MANIFEST = 4 << 20;

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: AnyManifest;
  /** False when the bytes came from the target (no GET was made). */
  fetched: boolean;
}

export interface ManifestCache {
  hasBlob(d: Digest): Promise<boolean>;
  readBytes(d: Digest): Promise<Buffer>;
}

function parse(
  repo: Repo,
  bytes: Buffer,
  contentType: string | null,
  digest: Digest,
): FetchedManifest['parsed'] & { mt: string } {
  let parsed: AnyManifest & { schemaVersion?: number };
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as AnyManifest;
  } catch (e) {
    throw new RegistryError(`manifest ${digest} is not valid JSON`, {
      registry: repo.registry,
      repository: repo.repository,
      cause: e,
    });
  }
  if (parsed.schemaVersion !== 2) {
    throw new RegistryError(
      `manifest ${digest} has schemaVersion ${String(parsed.schemaVersion)}; only schema 2 / OCI manifests are supported`,
      {
        registry: repo.registry,
        repository: repo.repository,
        hint: 'Docker schema 1 images are deprecated; push the image again with a current client',
      },
    );
  }
  return Object.assign(parsed, { mt: manifestMediaType(parsed, contentType) });
}

/**
 * One GET by tag or digest (verified against `expected`): for a manifest no cache can hold, HEAD first only adds a
 * round trip.
 */
export async function getManifest(repo: Repo, reference: string, expected?: Digest): Promise<FetchedManifest> {
  const res = await repo.request({
    method: 'GET',
    path: `/manifests/${reference}`,
    headers: { accept: MANIFEST_ACCEPT },
  });
  if (!res.ok) await repo.fail(res, `GET manifest ${reference}`);
  const name = `${repo.registry}/${repo.repository}${reference.includes(':') ? '@' : ':'}${reference}`;
  const bytes = await readBodyLimited(
    res,
    MAX_MANIFEST,
    () =>
      new RegistryError(
        `manifest ${name} is larger than ${MAX_MANIFEST >> 20} MiB (${MAX_MANIFEST} bytes), the limit; the download was stopped`,
        {
          registry: repo.registry,
          repository: repo.repository,
          hint: 'a manifest is a few kB: the registry sent something else, or the image is not meant for pulling',
        },
      ),
  );
  const actual = digestOf(bytes);
  if (expected && actual !== expected) throw new DigestMismatchError(repo.registry, repo.repository, expected, actual);
  const p = parse(repo, bytes, res.headers.get('content-type'), actual);
  const { mt, ...parsed } = p;
  return {
    descriptor: { mediaType: mt, digest: actual, size: bytes.length },
    bytes,
    parsed: parsed as AnyManifest,
    fetched: true,
  };
}

/** The manifest for a digest: from the cache when present, else fetched and verified. */
export async function manifestByDigest(repo: Repo, digest: Digest, cache: ManifestCache): Promise<FetchedManifest> {
  if (await cache.hasBlob(digest)) {
    const bytes = await cache.readBytes(digest);
    if (digestOf(bytes) === digest) {
      const { mt, ...parsed } = parse(repo, bytes, null, digest);
      return {
        descriptor: { mediaType: mt, digest, size: bytes.length },
        bytes,
        parsed: parsed as AnyManifest,
        fetched: false,
      };
    }
  }
  return getManifest(repo, digest, digest);
}

/** Resolves a tag: HEAD for the digest, then the cache or a GET by digest; a GET by tag when HEAD gives nothing. */
export async function manifestByTag(repo: Repo, tag: string, cache: ManifestCache): Promise<FetchedManifest> {
  const head = await repo.request({ method: 'HEAD', path: `/manifests/${tag}`, headers: { accept: MANIFEST_ACCEPT } });
  if (head.status === 404 || head.status === 401 || head.status === 403) await repo.fail(head, `manifest ${tag}`);
  const digest = head.ok ? head.headers.get('docker-content-digest') : null;
  if (digest && /^sha256:[a-f0-9]{64}$/.test(digest)) return manifestByDigest(repo, digest as Digest, cache);
  repo.client.transport.verbose(`HEAD ${repo.repository}:${tag} gave no digest (HTTP ${head.status}); fetching by tag`);
  return getManifest(repo, tag);
}
