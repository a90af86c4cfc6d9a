// The form of an attested image a push sends (issue 19). A build that pushes names, in its attestations, the image
// manifest as the registry will hold it (layers compressed). A build that only stores the image does not compress
// its layers for that: its attestations name the image as stored, and this module gives `tsbuild push` the pushed
// form, each image manifest with its layers compressed and each attestation manifest remade around statements whose
// subject is that manifest's new digest. Deterministic: the same stored index gives the same pushed index anywhere.
import {
  DEFAULT_COMPRESSION,
  IN_TOTO_MEDIA_TYPE,
  isAttestation,
  isIndexMediaType,
  PREDICATE_TYPE_ANNOTATION,
  REFERENCE_DIGEST,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type LayerCompression,
} from '../oci/index.js';
import type { Store } from '../store/index.js';
import { attestationManifest, imageIndex, statementOf, type Blob, type Statement } from './sbom/attest-manifest.js';

/** The image manifest with its layers compressed as a push sends them (the store remembers each compression). */
export async function compressedManifest(
  store: Store,
  manifest: Descriptor,
  compression: LayerCompression,
): Promise<Descriptor> {
  const m = JSON.parse((await store.blobs.read(manifest.digest)).toString('utf8')) as ImageManifest;
  const layers: Descriptor[] = [];
  for (const l of m.layers) layers.push(await store.layers.compressed(l, compression));
  const bytes = Buffer.from(JSON.stringify({ ...m, layers }));
  return store.blobs.putBytes(bytes, manifest.mediaType);
}

/**
 * `desc` as a push sends it: an index whose attestations name an image manifest with uncompressed layers becomes
 * one naming the compressed manifest; anything else is returned as it is (the push compresses plain images itself).
 */
export async function pushFormOf(
  store: Store,
  desc: Descriptor,
  compression: LayerCompression = DEFAULT_COMPRESSION,
): Promise<Descriptor> {
  if (!isIndexMediaType(desc.mediaType)) return desc;
  const index = JSON.parse((await store.blobs.read(desc.digest)).toString('utf8')) as ImageIndex;
  const attestations = index.manifests.filter(isAttestation);
  if (attestations.length === 0) return desc;
  const moved = new Map<string, Descriptor>();
  const images: Descriptor[] = [];
  for (const d of index.manifests) {
    if (isAttestation(d)) continue;
    const c = await compressedManifest(store, d, compression);
    const now = { ...d, mediaType: c.mediaType, digest: c.digest, size: c.size };
    if (c.digest !== d.digest) moved.set(d.digest, now);
    images.push(now);
  }
  if (moved.size === 0) return desc;
  const remade: Descriptor[] = [];
  for (const a of attestations) {
    const target = moved.get(a.annotations?.[REFERENCE_DIGEST] ?? '');
    const statements = target ? await statementsOf(store, a) : undefined;
    if (!target || !statements) {
      remade.push(a);
      continue;
    }
    const from = a.annotations![REFERENCE_DIGEST]!;
    const m = attestationManifest(
      target,
      statements.map((s) => statementOf(s.predicateType, retarget(s.bytes!, from, target.digest))),
    );
    await putBlobs(store, m.blobs);
    remade.push({ ...m.descriptor, annotations: { ...a.annotations, ...m.descriptor.annotations } });
  }
  const out = imageIndex(images, remade, index.annotations);
  return store.blobs.putBytes(out.bytes, desc.mediaType, out.descriptor.digest);
}

/** Stores the blobs that carry their bytes (the store holds the others: kept SBOM statements), side by side. */
export async function putBlobs(store: Store, blobs: readonly Blob[]): Promise<void> {
  const writes: Promise<unknown>[] = [];
  for (const b of blobs)
    if (b.bytes) writes.push(store.blobs.putBytes(b.bytes, b.descriptor.mediaType, b.descriptor.digest));
  await Promise.all(writes);
}

/** The in-toto statements of an attestation manifest tsbuild could have made (only in-toto layers), else undefined. */
async function statementsOf(store: Store, a: Descriptor): Promise<Statement[] | undefined> {
  const m = JSON.parse((await store.blobs.read(a.digest)).toString('utf8')) as ImageManifest;
  if (m.layers.some((l) => l.mediaType !== IN_TOTO_MEDIA_TYPE)) return undefined;
  const out: Statement[] = [];
  for (const l of m.layers)
    out.push(statementOf(l.annotations?.[PREDICATE_TYPE_ANNOTATION] ?? '', await store.blobs.read(l.digest)));
  return out;
}

/** A statement with every subject that named `from` naming `to` (written as the builder writes statements). */
export function retarget(bytes: Buffer, from: string, to: string): Buffer {
  const st = JSON.parse(bytes.toString('utf8')) as { subject?: { digest?: Record<string, string> }[] };
  const hex = (d: string): string => d.replace(/^sha256:/, '');
  for (const s of st.subject ?? []) if (s.digest?.sha256 === hex(from)) s.digest = { ...s.digest, sha256: hex(to) };
  return Buffer.from(JSON.stringify(st));
}
