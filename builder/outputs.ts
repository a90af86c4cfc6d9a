// Where a build's result goes besides the store: the push, --output type=local|tar|oci|docker, --iidfile and
// --metadata-file (output-plan.ts decides which). Everything is written to a temporary name and renamed.
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { TsbuildError } from '../oci/index.js';
import type { AssembledImage } from './assemble.js';
import { lowerdirsOf } from './steps/common.js';
import type { BuildEnv } from './steps/types.js';
import type { BuildOptions, PushedImage } from './options.js';
import type { OutputPlan } from './output-plan.js';
import { withView } from './view.js';

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
): Promise<PushedImage[] | undefined> {
  for (const o of plan.files) {
    if (o.type === 'local') await exportLocal(env, o.dest);
    else if (o.type === 'tar') await exportRootfsTar(env, o.dest);
    else {
      const { exportArchive } = await import('./export.js');
      await exportArchive(env.store, image, o.type, o.dest, o.names ?? [], o.layers);
    }
  }
  let pushed: PushedImage[] | undefined;
  // --push, -o type=registry and -o type=image,push=true: one push of every name (output-plan.ts)
  if (plan.pushNames.length > 0) {
    const { pushResult } = await import('./registry.js');
    pushed = await pushResult(env.store, image.manifest, plan.pushNames, opts, env.emit);
  }
  const pushedDigest = pushed?.[0]?.digest;
  if (opts.iidfile) await atomicWrite(opts.iidfile, image.configDigest);
  if (opts.metadataFile) {
    const meta = {
      // As docker buildx: the digest in the registry when pushed (layers compressed there), else the local one.
      'containerimage.digest': pushedDigest ?? image.manifest.digest,
      ...(pushedDigest ? { 'containerimage.local.digest': image.manifest.digest } : {}),
      'containerimage.config.digest': image.configDigest,
      'containerimage.descriptor': image.manifest,
      ...(plan.storeNames.length > 0 ? { 'image.name': plan.storeNames.join(',') } : {}),
    };
    await atomicWrite(opts.metadataFile, JSON.stringify(meta, null, 2) + '\n');
  }
  return pushed;
}

/** The final rootfs as a plain directory: a read-only merged view of the layers, copied with owners and modes. */
async function exportLocal(env: BuildEnv, dest: string): Promise<void> {
  const stage = await env.stage(env.plan.target);
  const lowers = await lowerdirsOf({ env, state: stage });
  await mkdir(dest, { recursive: true });
  await withView(lowers, env.tmpDir, async (view) => {
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
  const lowers = await lowerdirsOf({ env, state: stage });
  const { rootfsTar } = await import('../store/index.js');
  await withView(lowers, env.tmpDir, async (view) => {
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
