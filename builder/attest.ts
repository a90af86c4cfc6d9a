// Attestations of a build (issue 19): the SBOM of the final image (scanned in-process through a read-only view of
// its layers) and the SLSA provenance, stored as BuildKit stores them: an image index holding the image manifest
// and one attestation manifest (platform unknown/unknown) that points back at it. When the build pushes, the image
// manifest in the index is the one the push sends (its layers compressed as the output asks), so the digest the
// attestations name is the digest the registry holds; a build that only stores the image names it as stored, and
// `tsbuild push` makes the pushed form then (attest-push.ts).
import { createHash, randomUUID } from 'node:crypto';
import {
  DEFAULT_COMPRESSION,
  formatPlatform,
  MediaType,
  type Descriptor,
  type LayerCompression,
} from '../oci/index.js';
import type { AssembledImage } from './assemble.js';
import type { Annotations } from './annotations.js';
import type { AttestRequest } from './attest-spec.js';
import { readBuildfile } from './buildfile.js';
import { compressedManifest, putBlobs } from './attest-push.js';
import { isHttpContext } from './context-url.js';
import { isGitContext } from './sources/git.js';
import { contextSource } from './git-source.js';
import type { BuildOptions } from './options.js';
import {
  attestationDescriptors,
  imageIndex,
  referrerManifest,
  statementOf,
  type Statement,
} from './sbom/attest-manifest.js';
import { provenanceStatement, subjectName, type Material } from './sbom/provenance.js';
import { keptSbomStatement } from './sbom/sbom-statement.js';
import { scansDir, scanStage } from './sbom/stage-scan.js';
import type { BuildEnv, StageState } from './steps/types.js';

export interface AttestedImage {
  /** The index to tag and push: the image, then its attestation manifest. */
  index: Descriptor;
  /** The image manifest as listed in the index (its layers compressed, unless the build only stores it). */
  image: Descriptor;
  /** With `referrers=true`: the OCI referrer manifests of the image, to push beside the index. */
  referrers?: Descriptor[];
}

/**
 * Writes the attestations of `image` and the index holding both; returns the index. `startedOn`: when the build
 * began (provenance); `names`: the image's names (the provenance subjects).
 */
export async function attest(
  env: BuildEnv,
  final: StageState,
  image: AssembledImage,
  opts: BuildOptions,
  req: AttestRequest,
  meta: {
    startedOn: Date;
    names: string[];
    compression?: LayerCompression;
    /** Nothing of this build is pushed: the attestations name the image manifest as stored (layers uncompressed). */
    storeOnly?: boolean;
    toolVersion: string;
    annotations?: Annotations;
    /** A Git URL context's remote and resolved commit: the provenance's config source. */
    vcs?: { source: string; revision: string };
  },
): Promise<AttestedImage> {
  const { store } = env;
  const { imageDesc, pushed, statements } = await attestImage(env, final, image, opts, req, meta);
  const { blobs, descriptors } = attestationDescriptors([imageDesc], () => statements);
  if (Object.keys(meta.annotations?.manifestDescriptor ?? {}).length > 0)
    imageDesc.annotations = { ...meta.annotations!.manifestDescriptor };
  await putBlobs(store, blobs);
  const index = imageIndex([imageDesc], descriptors, meta.annotations?.index);
  const indexDesc = await store.blobs.putBytes(index.bytes, MediaType.OciIndex, index.descriptor.digest);
  let referrers: Descriptor[] | undefined;
  if (req.referrers) {
    const r = referrerManifest(pushed, statements);
    await putBlobs(store, r.blobs);
    referrers = [r.descriptor];
  }
  return { index: indexDesc, image: imageDesc, ...(referrers ? { referrers } : {}) };
}

/**
 * A multi-platform build's index with attestations (issue 17 + 19): every platform's image manifest as a push sends
 * it, then one attestation manifest per platform, as BuildKit lays out a multi-platform index.
 */
export async function attestIndex(
  platforms: { env: BuildEnv; final: StageState; image: AssembledImage }[],
  opts: BuildOptions,
  req: AttestRequest,
  meta: AttestMeta,
): Promise<Descriptor> {
  const store = platforms[0]!.env.store;
  const parts: Awaited<ReturnType<typeof attestImage>>[] = [];
  for (const p of platforms) parts.push(await attestImage(p.env, p.final, p.image, opts, req, meta));
  const images = parts.map((p) => p.imageDesc);
  const { blobs, descriptors } = attestationDescriptors(images, (d) => parts[images.indexOf(d)]!.statements);
  await putBlobs(store, blobs);
  const index = imageIndex(images, descriptors);
  return store.blobs.putBytes(index.bytes, MediaType.OciIndex, index.descriptor.digest);
}

type AttestMeta = Parameters<typeof attest>[5];

/** One image's statements (SBOM, provenance) and its manifest as a push sends it (their subject). */
async function attestImage(
  env: BuildEnv,
  final: StageState,
  image: AssembledImage,
  opts: BuildOptions,
  req: AttestRequest,
  meta: AttestMeta,
): Promise<{ imageDesc: Descriptor; pushed: Descriptor; statements: Statement[] }> {
  const { store } = env;
  const platform = formatPlatform(image.platform);
  // a build that pushes names the manifest the registry will hold; one that only stores it names it as stored, and
  // compresses nothing for that (`tsbuild push` retargets the attestations: attest-push.ts)
  const pushed = meta.storeOnly
    ? image.manifest
    : await compressedManifest(store, image.manifest, meta.compression ?? DEFAULT_COMPRESSION);
  const imageDesc: Descriptor = { ...pushed, platform: image.platform };
  // the SBOM's time is the image's (its config's `created`: SOURCE_DATE_EPOCH when set), so the same image has the
  // same SBOM however often it is rebuilt
  const created =
    env.sourceDateEpoch !== undefined
      ? new Date(env.sourceDateEpoch * 1000)
      : image.config.created
        ? new Date(image.config.created)
        : new Date();
  const subjects = (meta.names.length > 0 ? meta.names : [undefined]).map((n) => ({
    name: subjectName(n, platform),
    digest: pushed.digest,
  }));
  const statements: Statement[] = [];
  if (req.sbom) {
    const sbom = req.sbom;
    const document = (st: StageState, name: string): Promise<Statement> =>
      keptSbomStatement(
        scansDir(env),
        st.layers.map((l) => l.diffID),
        {
          format: sbom.format === 'cyclonedx' ? 'cyclonedx' : 'spdx',
          name,
          created,
          toolVersion: meta.toolVersion,
          subjects,
        },
        () => scanStage(env, st),
        (d) => store.blobs.has(d),
      );
    statements.push(await document(final, meta.names[0] ?? 'image'));
    if (sbom.scanStages) {
      for (const i of env.plan.needed) {
        if (i === env.plan.target) continue;
        const name = `${meta.names[0] ?? 'image'} (stage ${env.plan.stages[i]!.displayName})`;
        statements.push(await document(await env.stage(i), name));
      }
    }
  }
  if (req.provenance) {
    const statement = provenanceStatement({
      mode: req.provenance.mode,
      subjects,
      context: await contextSource(opts, meta.vcs),
      buildfile: await buildfileFacts(env, opts),
      ...(opts.target !== undefined ? { target: opts.target } : {}),
      platform,
      materials: await materials(env),
      buildArgs: opts.buildArgs ?? {},
      secretIds: (opts.secrets ?? []).map((s) => s.id),
      startedOn: meta.startedOn,
      finishedOn: new Date(),
      ...(env.sourceDateEpoch !== undefined ? { epoch: env.sourceDateEpoch } : {}),
      hermetic: hermetic(env),
      toolVersion: meta.toolVersion,
      invocationId: randomUUID(),
    });
    statements.push(statementOf(statement.predicateType as string, Buffer.from(JSON.stringify(statement))));
  }
  return { imageDesc, pushed, statements };
}

async function buildfileFacts(
  env: BuildEnv,
  opts: BuildOptions,
): Promise<{ path: string; sha256: string; text: string }> {
  const local = typeof opts.context === 'string' && !isHttpContext(opts.context) && !isGitContext(opts.context);
  // a tar, URL or Git context was unpacked or checked out into the build's context root: the Buildfile is there
  const { text, file } = await readBuildfile(opts, local ? undefined : env.context.root);
  const ctx = local ? (opts.context as string).replace(/\/+$/, '') + '/' : '';
  const path = ctx && file.startsWith(ctx) ? file.slice(ctx.length) : file;
  return { path, sha256: createHash('sha256').update(text).digest('hex'), text };
}

/** Every base image and every image a COPY --from or --mount from= read, by digest. */
async function materials(env: BuildEnv): Promise<Material[]> {
  const out = new Map<string, Material>();
  for (const i of env.plan.needed) {
    const sp = env.plan.stages[i]!;
    if (sp.base.kind === 'image') {
      const { record } = await env.resolveBaseImage(sp.base.ref, sp.platform);
      const uri = `pkg:docker/${record.name ?? sp.base.ref}?platform=${encodeURIComponent(formatPlatform(sp.platform))}`;
      out.set(uri, { uri, digest: { sha256: record.manifestDigest.slice(7) } });
    }
    for (const ref of sp.imageDeps) {
      const record = await env.resolveImage(ref);
      const uri = `pkg:docker/${record.name ?? ref}`;
      out.set(uri, { uri, digest: { sha256: record.manifestDigest.slice(7) } });
    }
  }
  return [...out.values()];
}

/** Hermetic: no RUN step of the stages built had a network (each one's, or the build's, is `none`). */
function hermetic(env: BuildEnv): boolean {
  for (const i of env.plan.needed) {
    for (const ins of env.plan.stages[i]!.instructions) {
      if (ins.kind !== 'run') continue;
      const net = ins.network === undefined || ins.network === 'default' ? env.network : ins.network;
      if (net !== 'none') return false;
    }
  }
  return true;
}
