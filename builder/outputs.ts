// Where a build's result goes besides the store: the push, --output type=local|tar|oci|docker, --iidfile and
// --metadata-file (output-plan.ts decides which). Everything is written to a temporary name and renamed.
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { platformDirName, TsbuildError, type Descriptor } from '../oci/index.js';
import type { AssembledImage } from './assemble.js';
import { lowerdirsOf } from './steps/common.js';
import type { BuildEnv } from './steps/types.js';
import type { BuildOptions, PushedImage } from './options.js';
import type { OutputPlan } from './output-plan.js';
import { withLayersView } from './view.js';

/** Runs a command to its end (child_process loads on first use: a build that exports nothing never needs it). */
const run = (file: string, args: string[]): Promise<{ stdout: string; stderr: string }> =>
  promisify(execFile)(file, args);

async function atomicWrite(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function writeOutputs(
  env: BuildEnv,
  image: AssembledImage,
  opts: BuildOptions,
  plan: OutputPlan,
  /** With attestations: the index (image + attestation manifest) that is pushed in the image's place. */
  index?: Descriptor,
  /** With `referrers=true`: referrer manifests of `subject` (the image manifest in the index) to push too. */
  referrers?: { manifests: Descriptor[]; subject: Descriptor },
  /** A Git context's remote and commit, recorded as BuildKit names them. */
  vcs?: { source: string; revision: string },
): Promise<PushedImage[] | undefined> {
  for (const o of plan.files) {
    if (o.type === 'local') await exportLocal(env, o.dest);
    else if (o.type === 'tar') await exportRootfsTar(env, o.dest);
    else {
      // a docker-archive holds one image: say so rather than drop the attestations unnoticed
      if (index && o.type === 'docker') {
        const message = `-o type=docker: a docker archive cannot hold attestations (the image is written); use -o type=oci or --push to keep them`;
        env.emit({ type: 'log', time: Date.now(), level: 'warn', message });
      }
      const { exportArchive } = await import('./export.js');
      await exportArchive(env.store, image, o.type, o.dest, o.names ?? [], o.layers, index);
    }
  }
  let pushed: PushedImage[] | undefined;
  // --push, -o type=registry and -o type=image,push=true: one push of every name (output-plan.ts)
  if (plan.pushNames.length > 0) {
    const { pushResult } = await import('./registry.js');
    pushed = await pushResult(env.store, index ?? image.manifest, plan.pushNames, opts, env.emit);
    if (referrers) {
      const { pushReferrersFor } = await import('./registry.js');
      await pushReferrersFor(env.store, referrers.manifests, referrers.subject, plan.pushNames, opts, env.emit);
    }
  }
  if (opts.iidfile) await atomicWrite(opts.iidfile, image.configDigest);
  await writeMetadata(opts, plan, image.manifest, pushed, image.configDigest, vcs);
  return pushed;
}

/**
 * The outputs of a multi-platform build: the push and the archives carry the index (its manifests before it), a
 * local directory gets one sub-directory per platform (`linux_arm64/`, buildx's names), and --iidfile and
 * --metadata-file name the index (as buildx: the index has no config, so no config digest).
 */
export async function writeIndexOutputs(
  platforms: { env: BuildEnv; image: AssembledImage }[],
  index: Descriptor,
  opts: BuildOptions,
  plan: OutputPlan,
  vcs?: { source: string; revision: string },
): Promise<PushedImage[] | undefined> {
  const store = platforms[0]!.env.store;
  for (const o of plan.files) {
    if (o.type === 'local') {
      for (const { env, image } of platforms) await exportLocal(env, join(o.dest, platformDirName(image.platform)));
    } else if (o.type === 'oci' || o.type === 'docker') {
      const { exportIndexArchive } = await import('./export.js');
      await exportIndexArchive(store, index, o.type, o.dest, o.names ?? [], o.layers);
    } else {
      // refused before the build started (build.ts refuseMultiPlatformOutputs)
      throw new Error(`internal: -o type=${o.type} with several platforms`);
    }
  }
  let pushed: PushedImage[] | undefined;
  if (plan.pushNames.length > 0) {
    const { pushResult } = await import('./registry.js');
    pushed = await pushResult(store, index, plan.pushNames, opts, platforms[0]!.env.emit);
  }
  if (opts.iidfile) await atomicWrite(opts.iidfile, index.digest);
  await writeMetadata(opts, plan, index, pushed, undefined, vcs);
  return pushed;
}

async function writeMetadata(
  opts: BuildOptions,
  plan: OutputPlan,
  manifest: Descriptor,
  pushed: PushedImage[] | undefined,
  configDigest: string | undefined,
  /** A Git context's remote and commit, recorded as BuildKit names them. */
  vcs: { source: string; revision: string } | undefined,
): Promise<void> {
  if (!opts.metadataFile) return;
  const pushedDigest = pushed?.[0]?.digest;
  const meta = {
    // As docker buildx: the digest in the registry when pushed (layers compressed there), else the local one.
    'containerimage.digest': pushedDigest ?? manifest.digest,
    ...(pushedDigest ? { 'containerimage.local.digest': manifest.digest } : {}),
    ...(configDigest !== undefined ? { 'containerimage.config.digest': configDigest } : {}),
    'containerimage.descriptor': manifest,
    ...(plan.storeNames.length > 0 ? { 'image.name': plan.storeNames.join(',') } : {}),
    ...(vcs ? { 'vcs:source': vcs.source, 'vcs:revision': vcs.revision } : {}),
  };
  await atomicWrite(opts.metadataFile, JSON.stringify(meta, null, 2) + '\n');
}

/** The final rootfs as a plain directory: a read-only merged view of the layers, copied with owners and modes. */
async function exportLocal(env: BuildEnv, dest: string): Promise<void> {
  const stage = await env.stage(env.plan.target);
  let lowers: string[] = [];
  const src = { layers: stage.layers, lowerdirs: async () => (lowers = await lowerdirsOf({ env, state: stage })) };
  await mkdir(dest, { recursive: true });
  await withLayersView(env, src, async (view) => {
    await run('cp', ['-a', '--reflink=auto', `${view}/.`, dest]);
  });
  // Overlay lowers may hold whiteout devices only when a single layer is used as is; drop them.
  if (lowers.length === 1) await run('find', [dest, '-type', 'c', '-empty', '-delete']).catch(() => undefined);
  await rm(`${dest}/.wh..wh..opq`, { force: true });
}

/**
 * The final rootfs as a tar (`type=tar`): the same merged view `type=local` copies, streamed by the store's tar
 * writer as it walks (nothing is buffered whole) to a file renamed when complete, or to stdout.
 */
async function exportRootfsTar(env: BuildEnv, dest: string): Promise<void> {
  const stage = await env.stage(env.plan.target);
  const src = { layers: stage.layers, lowerdirs: () => lowerdirsOf({ env, state: stage }) };
  const { rootfsTar } = await import('../store/index.js');
  await withLayersView(env, src, async (view) => {
    const tar = rootfsTar(view, env.sourceDateEpoch);
    if (dest === '-') return toStdout(tar);
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.${process.pid}.tmp`;
    try {
      await pipeline(tar, createWriteStream(tmp));
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  });
}

/** Streams to stdout without ending it, and returns once every byte has been handed to the pipe or file. */
async function toStdout(src: Readable): Promise<void> {
  try {
    await pipeline(src, process.stdout, { end: false });
    await new Promise<void>((res, rej) => process.stdout.write('', (e) => (e ? rej(e) : res())));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
    throw new TsbuildError('STDOUT_CLOSED', 'stdout was closed before the whole tar was written to it', {
      hint: 'the program reading the tar stopped early; read it to its end',
      cause: e,
    });
  }
}
