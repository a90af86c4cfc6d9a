// BuildKit's attestation storage vocabulary (moby/buildkit docs/attestations/attestation-storage.md): what marks an
// index entry as an attestation manifest and what its layers are. Shared by the builder (which writes them) and the
// store (which reads them back for `inspect --attestations` and `sbom`).
import type { Descriptor } from './types.js';

export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json';
export const REFERENCE_TYPE = 'vnd.docker.reference.type';
export const REFERENCE_DIGEST = 'vnd.docker.reference.digest';
export const ATTESTATION_MANIFEST = 'attestation-manifest';
export const PREDICATE_TYPE_ANNOTATION = 'in-toto.io/predicate-type';
export const SPDX_PREDICATE = 'https://spdx.dev/Document';
export const CYCLONEDX_PREDICATE = 'https://cyclonedx.org/bom';

/** True for an index entry that is an attestation manifest (what a pull or run must never pick). */
export function isAttestation(d: Descriptor): boolean {
  return d.annotations?.[REFERENCE_TYPE] === ATTESTATION_MANIFEST;
}
