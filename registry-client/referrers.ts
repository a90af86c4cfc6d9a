// OCI 1.1 referrers (distribution-spec "Listing Referrers"): manifests whose `subject` names an image, found by a
// client through `GET /v2/<name>/referrers/<digest>`, or, on a registry without that API, through the referrers
// tag schema: an image index tagged `sha256-<hex of the subject>` listing them, which the pusher keeps up to date.
// Used for attestations pushed with `--attest …,referrers=true`.
import { MediaType, type Descriptor, type ImageIndex, type ImageRef } from '../oci/index.js';
import { discardBody, readBodyLimited } from './body-limit.js';
import { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { resolveRegistryOptions } from './options.js';
import { pushImage, type PushOptions, type PushSource } from './push.js';

const MAX_INDEX = 4 << 20;

/** The tag the fallback schema lists a subject's referrers under. */
export function referrersTag(subject: Descriptor): string {
  return subject.digest.replace(':', '-');
}

/**
 * Pushes each referrer manifest (held by `source`, its `subject` set) by digest to `dest`'s repository, then makes
 * sure clients find them: through the registry's referrers API when it lists them, else by adding them to the
 * fallback index under the `sha256-…` tag. Returns which way.
 */
export async function pushReferrers(
  source: PushSource,
  referrers: Descriptor[],
  subject: Descriptor,
  dest: ImageRef,
  opts: PushOptions = {},
): Promise<'api' | 'tag'> {
  for (const r of referrers) {
    await pushImage(source, r, [{ registry: dest.registry, repository: dest.repository, digest: r.digest }], opts);
  }
  const client = opts.client ?? new RegistryClient(await resolveRegistryOptions(opts));
  try {
    const repo = client.repo(client.endpoints(dest.registry, 'push')[0]!, dest.repository, ['pull', 'push']);
    const listed = await repo.request({
      method: 'GET',
      path: `/referrers/${subject.digest}`,
      headers: { accept: MediaType.OciIndex },
    });
    if (listed.status === 200) {
      const index = JSON.parse(
        (await readBodyLimited(listed, MAX_INDEX, () => tooLarge(dest))).toString('utf8'),
      ) as ImageIndex;
      // a registry with the API indexes what names a subject when the manifest is pushed
      if (referrers.every((r) => index.manifests?.some((m) => m.digest === r.digest))) return 'api';
    } else await discardBody(listed);
    const tag = referrersTag(subject);
    const got = await repo.request({
      method: 'GET',
      path: `/manifests/${tag}`,
      headers: { accept: MediaType.OciIndex },
    });
    let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    if (got.status === 200) {
      index = JSON.parse((await readBodyLimited(got, MAX_INDEX, () => tooLarge(dest))).toString('utf8')) as ImageIndex;
    } else if (got.status === 404) await discardBody(got);
    else await repo.fail(got, `GET manifest ${tag}`);
    const known = new Set(index.manifests.map((m) => m.digest));
    const added = referrers.filter((r) => !known.has(r.digest));
    if (added.length === 0) return 'tag';
    const bytes = Buffer.from(JSON.stringify({ ...index, manifests: [...index.manifests, ...added] }));
    const put = await repo.request({
      method: 'PUT',
      path: `/manifests/${tag}`,
      headers: { 'content-type': MediaType.OciIndex, 'content-length': String(bytes.length) },
      body: () => bytes,
    });
    if (put.status !== 201 && put.status !== 200) await repo.fail(put, `PUT manifest ${tag}`);
    await discardBody(put);
    return 'tag';
  } finally {
    if (!opts.client) client.close();
  }
}

function tooLarge(dest: ImageRef): RegistryError {
  return new RegistryError(`the referrers index is larger than ${MAX_INDEX} bytes`, {
    registry: dest.registry,
    repository: dest.repository,
  });
}
