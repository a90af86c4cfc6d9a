// `tsbuild build --check`: run the build checks and build nothing (buildx's `--check`, the lint subrequest). With no
// --target every stage is checked, as BuildKit's lint does; with one, the stages it needs.
import { loadParser, type CheckWarning } from '../parser/index.js';
import { hostPlatform, parsePlatform, UsageError } from '../oci/index.js';
import { readBuildfile } from './buildfile.js';
import { checkBuildfile, checkConfig, experimentalNotice } from './checks.js';
import { PlanError } from './errors.js';
import type { BuildOptions } from './options.js';
import { makePlan } from './plan.js';
import { isHttpContext } from './context-url.js';
import { isGitContext } from './sources/git.js';

export interface CheckReport {
  /** The Buildfile's name as messages show it, and its text (for the excerpts). */
  file: string;
  text: string;
  warnings: CheckWarning[];
  /** What the check options asked for that tsbuild cannot do (printed as a warning). */
  notices: string[];
}

export async function checkOnly(opts: BuildOptions): Promise<CheckReport> {
  if (typeof opts.context !== 'string')
    throw new UsageError('--check cannot read a tar context from stdin', {
      hint: 'give the context as a directory, or the Buildfile alone on stdin (-f - or `build --check - < Buildfile`)',
    });
  if (isHttpContext(opts.context) && opts.fileText === undefined)
    throw new UsageError('--check cannot read an HTTP(S) context', {
      hint: 'download it and give its directory, or the Buildfile alone on stdin (-f -)',
    });
  if (isGitContext(opts.context) && opts.fileText === undefined)
    throw new UsageError('--check cannot read a Git context (it fetches nothing)', {
      hint: 'check a local checkout of the repository, or give the Buildfile on stdin (-f -)',
    });
  const { text, file } = await readBuildfile(opts, undefined);
  const parsed = (await loadParser()).parseBuildfile(text, file);
  const config = checkConfig(parsed, opts.buildArgs ?? {});
  let reached: Set<number> | undefined;
  if (opts.target !== undefined) {
    let targetPlatform = hostPlatform();
    if (opts.platform) {
      try {
        targetPlatform = parsePlatform(opts.platform);
      } catch (e) {
        throw new PlanError((e as Error).message, file);
      }
    }
    const plan = makePlan({
      parsed,
      buildArgs: opts.buildArgs ?? {},
      target: opts.target,
      buildPlatform: hostPlatform(),
      targetPlatform,
    });
    reached = new Set(plan.needed);
  }
  const notice = experimentalNotice(config);
  return { file, text, warnings: checkBuildfile(parsed, config, reached), notices: notice ? [notice] : [] };
}
