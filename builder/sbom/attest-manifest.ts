// Attestations attached as BuildKit attaches them (docs/attestations/attestation-storage.md in moby/buildkit): one
// attestation manifest per image manifest, listed in the image index with platform unknown/unknown and the
// annotations `vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest: <image>`; its
// layers are the in-toto statements (`application/vnd.in-toto+json`), each annotated with its predicate type.
// Pure: bytes in, bytes and descriptors out; builder/attest.ts writes them to the store.
import {
  ATTESTATION_MANIFEST,
  IN_TOTO_MEDIA_TYPE,
  PREDICATE_TYPE_ANNOTATION,
  REFERENCE_DIGEST,
  REFERENCE_TYPE,
  digestOf,
  MediaType,
  type Descriptor,
  type Digest,
  type ImageIndex,
  type ImageManifest,
} from '../../oci/index.js';

export interface Statement {
  predicateType: string;
  digest: Digest;
  size: number;
  /** The statement's JSON bytes, as they are stored; absent when the store holds them already (a kept SBOM). */
  bytes?: Buffer;
}

/** A statement of these bytes. */
export function statementOf(predicateType: string, bytes: Buffer): Statement {
  return { predicateType, digest: digestOf(bytes), size: bytes.length, bytes };
}

export interface Blob {
  descriptor: Descriptor;
  /** Absent: the store holds the blob already. */
  bytes?: Buffer;
}

/** One in-toto layer per statement, annotated with its predicate type (both manifest forms hold the same). */
function statementLayers(statements: Statement[]): Blob[] {
  return statements.map((s) => ({
    ...(s.bytes ? { bytes: s.bytes } : {}),
    descriptor: {
      mediaType: IN_TOTO_MEDIA_TYPE,
      digest: s.digest,
      size: s.size,
      annotations: { [PREDICATE_TYPE_ANNOTATION]: s.predicateType },
    },
  }));
}

/**
 * The attestation manifest of one image: its blobs (config, one layer per statement, the manifest itself, last)
 * and the descriptor to list in the index.
 */
export function attestationManifest(
  image: Descriptor,
  statements: Statement[],
): { blobs: Blob[]; descriptor: Descriptor } {
  const layers = statementLayers(statements);
  // BuildKit's attestation config: an image config of platform unknown/unknown whose diff_ids are the statements
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'unknown',
      os: 'unknown',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.descriptor.digest) },
    }),
  );
  const config: Blob = {
    bytes: configBytes,
    descriptor: { mediaType: MediaType.OciConfig, digest: digestOf(configBytes), size: configBytes.length },
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: config.descriptor,
    layers: layers.map((l) => l.descriptor),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const descriptor: Descriptor = {
    mediaType: MediaType.OciManifest,
    digest: digestOf(bytes),
    size: bytes.length,
    annotations: { [REFERENCE_DIGEST]: image.digest, [REFERENCE_TYPE]: ATTESTATION_MANIFEST },
    platform: { architecture: 'unknown', os: 'unknown' },
  };
  return {
    blobs: [
      config,
      ...layers,
      { bytes, descriptor: { mediaType: MediaType.OciManifest, digest: descriptor.digest, size: bytes.length } },
    ],
    descriptor,
  };
}

/**
 * What to append to an image index for its images: per image manifest (each with its platform), the attestation
 * manifest's descriptor. `statementsFor` gives each image's statements.
 */
export function attestationDescriptors(
  images: Descriptor[],
  statementsFor: (image: Descriptor) => Statement[],
): { blobs: Blob[]; descriptors: Descriptor[] } {
  const blobs: Blob[] = [];
  const descriptors: Descriptor[] = [];
  for (const image of images) {
    const statements = statementsFor(image);
    if (statements.length === 0) continue;
    const m = attestationManifest(image, statements);
    blobs.push(...m.blobs);
    descriptors.push(m.descriptor);
  }
  return { blobs, descriptors };
}

/** An OCI image index of the images, then their attestation manifests (BuildKit's order). */
export function imageIndex(
  images: Descriptor[],
  attestations: Descriptor[],
  annotations?: Record<string, string>,
): Required<Blob> {
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [...images, ...attestations],
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(index));
  return { bytes, descriptor: { mediaType: MediaType.OciIndex, digest: digestOf(bytes), size: bytes.length } };
}

/**
 * The same statements as an OCI 1.1 referrer of the image (for `referrers=true`): an artifact manifest whose
 * `subject` is the image, `artifactType` the in-toto media type, config the empty descriptor. Blobs last = manifest.
 */
export function referrerManifest(
  image: Descriptor,
  statements: Statement[],
): { blobs: Blob[]; descriptor: Descriptor } {
  const empty = Buffer.from('{}');
  const config: Descriptor = { mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: empty.length };
  const layers = statementLayers(statements);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: IN_TOTO_MEDIA_TYPE,
    config,
    layers: layers.map((l) => l.descriptor),
    subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const descriptor: Descriptor = {
    mediaType: MediaType.OciManifest,
    digest: digestOf(bytes),
    size: bytes.length,
    artifactType: IN_TOTO_MEDIA_TYPE,
  };
  return { blobs: [{ bytes: empty, descriptor: config }, ...layers, { bytes, descriptor }], descriptor };
}
