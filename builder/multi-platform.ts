// The end of a multi-platform build (`--platform p1,p2,…`): each platform's image assembled as a single-platform
// build's is, the index over them (oci/image-index.ts, in the order of --platform), the build cache of all of them
// exported as one, then the outputs and the tags, which name the index.
import { makeImageIndex, MediaType, type Descriptor } from '../oci/index.js';
import { assemble, type AssembledImage } from './assemble.js';
import type { BaseImageResolver } from './env.js';
import type { BuildOptions, BuildResult } from './options.js';
import { pushCompression, type OutputPlan } from './output-plan.js';
import type { BuildEnv, StageState } from './steps/types.js';

export async function finishIndex(
  runs: { env: BuildEnv; final: StageState }[],
  opts: BuildOptions,
  resolveBaseImage: BaseImageResolver,
  outputs: OutputPlan,
  /** A Git context's remote and commit (--metadata-file's vcs:source / vcs:revision). */
  vcs?: { source: string; revision: string },
  /** When the build began (the provenance's start time). */
  startedOn: Date = new Date(),
): Promise<BuildResult> {
  const { store, emit, tally } = runs[0]!.env;
  // as finishImage: the base images' records and the registry-cache hits are written while the images assemble
  const basesStored = resolveBaseImage.stored();
  basesStored.catch(() => undefined);
  const hooks = await import('./remote-cache/hooks.js');
  const hitsRecorded = hooks.recordCacheHits(store, opts);
  hitsRecorded.catch(() => undefined);
  const images: AssembledImage[] = [];
  for (const { env, final } of runs) images.push(await assemble(env, final, opts));
  await basesStored;
  await hitsRecorded;
  // one cache artifact holding every platform's records (type=inline rewrites each image, so before the index)
  await hooks.exportBuildCache(store, opts, images, emit);
  // asked-for attestations: the index holds each platform's image as a push sends it and its attestation manifest
  const index = opts.attest
    ? await (
        await import('./attest.js')
      ).attestIndex(
        runs.map((r, i) => ({ env: r.env, final: r.final, image: images[i]! })),
        opts,
        opts.attest,
        {
          startedOn,
          names: [...new Set([...outputs.pushNames, ...outputs.storeNames])],
          toolVersion: opts.toolVersion ?? 'dev',
          ...(vcs ? { vcs } : {}),
          ...pushCompression(opts),
          ...(outputs.pushNames.length === 0 ? { storeOnly: true } : {}),
        },
      )
    : await putIndex(runs[0]!.env, images);
  const { writeIndexOutputs } = await import('./outputs.js');
  const pushed = await writeIndexOutputs(
    runs.map((r, i) => ({ env: r.env, image: images[i]! })),
    index,
    opts,
    outputs,
    vcs,
  );
  for (const t of outputs.storeNames) await store.images.tag(t, index);
  return {
    ...(pushed ? { pushed } : {}),
    // an index has no config: its digest is what names it (buildx's --iidfile holds it too)
    imageId: index.digest,
    manifestDigest: index.digest,
    manifestSize: index.size,
    platform: images[0]!.platform,
    platforms: images.map((im) => ({ platform: im.platform, imageId: im.configDigest, manifest: im.manifest })),
    index,
    tags: outputs.storeNames,
    stats: tally.snapshot(),
  };
}

/** The index blob over the images, in the order of their platforms in --platform. */
async function putIndex(env: BuildEnv, images: AssembledImage[]): Promise<Descriptor> {
  const index = makeImageIndex(images.map((im) => ({ descriptor: im.manifest, platform: im.platform })));
  const { putJSON } = await import('../store/index.js');
  const desc = await putJSON(env.store.blobs, index, MediaType.OciIndex);
  return { ...desc, mediaType: MediaType.OciIndex };
}
