// The image's annotations: the caller's (--annotation, for this platform) over the OCI standard ones tsbuild
// knows: the creation time, the git checkout the context is, and the final stage's base image.
import { parseAnnotations, standardAnnotations, type Annotations } from './annotations.js';
import { contextSource } from './git-source.js';
import type { BuildOptions } from './options.js';
import type { BuildEnv, StageState } from './steps/types.js';

export async function imageAnnotations(
  env: BuildEnv,
  final: StageState,
  opts: BuildOptions,
  vcs?: { source: string; revision: string },
): Promise<{ parsed: Annotations; manifest: (created: string) => Record<string, string> }> {
  const parsed = parseAnnotations(opts.annotations ?? [], final.plan.platform);
  const source = await contextSource(opts, vcs);
  // the final stage's base, through FROM <stage> chains
  let sp = final.plan;
  while (sp.base.kind === 'stage') sp = env.plan.stages[sp.base.stage]!;
  let base: { name: string; digest: string } | undefined;
  if (sp.base.kind === 'image') {
    const { record } = await env.resolveBaseImage(sp.base.ref, sp.platform);
    base = { name: record.name ?? sp.base.ref, digest: record.manifestDigest };
  }
  return {
    parsed,
    manifest: (created) => ({
      ...standardAnnotations({ created, source, ...(base ? { base } : {}) }),
      ...parsed.manifest,
    }),
  };
}
