// Where a build's result goes besides the store: --push, --output type=local|oci|docker, --iidfile and
// --metadata-file. Everything is written to a temporary name and renamed.
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { AssembledImage } from './build.js';
import { lowerdirsOf } from './steps/common.js';
import type { BuildEnv } from './steps/types.js';
import type { BuildOptions } from './options.js';
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
  opts: BuildOptions & { tags: string[] },
): Promise<void> {
  for (const o of opts.outputs ?? []) {
    if (o.type === 'local') await exportLocal(env, o.dest);
    else if (o.type === 'oci' || o.type === 'docker') {
      const { exportArchive } = await import('./export.js');
      await exportArchive(env.store, image, o.type, o.dest, opts.tags, o.layers);
    }
  }
  let pushedDigest: string | undefined;
  if (opts.push) {
    if (opts.tags.length === 0) throw new Error('--push needs at least one -t NAME to push to');
    const { pushResult } = await import('./registry.js');
    pushedDigest = await pushResult(env.store, image.manifest, opts.tags, opts, env.emit);
  }
  if (opts.iidfile) await atomicWrite(opts.iidfile, image.configDigest);
  if (opts.metadataFile) {
    const meta = {
      // As docker buildx: the digest in the registry when pushed (layers compressed there), else the local one.
      'containerimage.digest': pushedDigest ?? image.manifest.digest,
      ...(pushedDigest ? { 'containerimage.local.digest': image.manifest.digest } : {}),
      'containerimage.config.digest': image.configDigest,
      'containerimage.descriptor': image.manifest,
      ...(opts.tags.length > 0 ? { 'image.name': opts.tags.join(',') } : {}),
    };
    await atomicWrite(opts.metadataFile, JSON.stringify(meta, null, 2) + '\n');
  }
}

/** The final rootfs as a plain directory: a read-only merged view of the layers, copied with owners and modes. */
async function exportLocal(env: BuildEnv, dest: string): Promise<void> {
  const stage = await env.stages.get(env.plan.target)!;
  const lowers = await lowerdirsOf({ env, state: stage });
  await mkdir(dest, { recursive: true });
  await withView(lowers, env.tmpDir, async (view) => {
    await run('cp', ['-a', '--reflink=auto', `${view}/.`, dest]);
  });
  // Overlay lowers may hold whiteout devices only when a single layer is used as is; drop them.
  if (lowers.length === 1) await run('find', [dest, '-type', 'c', '-empty', '-delete']).catch(() => undefined);
  await rm(`${dest}/.wh..wh..opq`, { force: true });
}
