// The attestations the store holds for an image (`tsbuild inspect --attestations`, `tsbuild sbom`): the index a
// name points at, its attestation manifests (BuildKit's layout: oci/attestation.ts), their in-toto statements.
import {
  isAttestation,
  isDigest,
  isIndexMediaType,
  normalizeName,
  PREDICATE_TYPE_ANNOTATION,
  REFERENCE_DIGEST,
  type Descriptor,
  type Digest,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from '../../oci/index.js';
import type { Store } from '../api.js';
import { StoreError } from '../errors.js';

export interface AttestationRecord {
  /** The image manifest the attestation is about. */
  subject: Digest;
  /** That image's platform, as its index entry gives it. */
  platform?: Platform;
  /** The attestation manifest. */
  manifest: Digest;
  predicateType: string;
  /** The in-toto statement, parsed. */
  statement: unknown;
}

/** Every attestation of the index `ref` names (a name or an index digest); none for a plain image. */
export async function readAttestations(store: Store, ref: string): Promise<AttestationRecord[]> {
  const target = await targetOf(store, ref);
  if (!target || !isIndexMediaType(target.mediaType)) return [];
  const index = JSON.parse((await store.blobs.read(target.digest)).toString('utf8')) as ImageIndex;
  const platforms = new Map(index.manifests.filter((d) => !isAttestation(d)).map((d) => [d.digest, d.platform]));
  const out: AttestationRecord[] = [];
  for (const d of index.manifests) {
    if (!isAttestation(d)) continue;
    const subject = d.annotations?.[REFERENCE_DIGEST] as Digest | undefined;
    if (!subject) continue;
    const m = JSON.parse((await store.blobs.read(d.digest)).toString('utf8')) as ImageManifest;
    for (const l of m.layers) {
      const platform = platforms.get(subject);
      out.push({
        subject,
        ...(platform ? { platform } : {}),
        manifest: d.digest,
        predicateType: l.annotations?.[PREDICATE_TYPE_ANNOTATION] ?? 'unknown',
        statement: JSON.parse((await store.blobs.read(l.digest)).toString('utf8')) as unknown,
      });
    }
  }
  return out;
}

async function targetOf(store: Store, ref: string): Promise<Descriptor | undefined> {
  const tags = await store.images.list();
  const bare = ref.startsWith('sha256:') ? ref : undefined;
  if (bare && isDigest(bare)) {
    const tagged = tags.find((t) => t.target.digest === bare);
    if (tagged) return tagged.target;
  }
  let name: string;
  try {
    name = normalizeName(ref);
  } catch (e) {
    throw new StoreError(`"${ref}" is not an image name: ${(e as Error).message}`);
  }
  return tags.find((t) => t.name === name)?.target;
}
