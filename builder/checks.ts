// Build checks in a build (BuildKit's linter in dockerfile2llb): the rules come from the BUILDKIT_DOCKERFILE_CHECK
// build arg, else the `# check=` directive; they look at the stages the build reaches; `error=true` fails the
// build once they are printed, before anything runs.
import { CheckOptionError, parseCheckOptions, runChecks } from '../parser/index.js';
import type { CheckConfig, CheckWarning, ParseResult } from '../parser/index.js';
import { TsbuildError, UsageError } from '../oci/index.js';
import type { BuildEvent } from './events.js';
import { typeInstruction } from './plan.js';

/** The build arg that overrides the `# check=` directive, as buildx's `--build-arg BUILDKIT_DOCKERFILE_CHECK=…`. */
export const CHECK_ARG = 'BUILDKIT_DOCKERFILE_CHECK';

/** Rules BuildKit reports while it builds (they need a base image), not from the Buildfile alone. */
const BUILD_TIME_RULES = {
  InvalidBaseImagePlatform: {
    description: 'Base image platform does not match expected target platform',
    url: 'https://docs.docker.com/go/dockerfile/rule/invalid-base-image-platform/',
  },
} as const;
export type BuildTimeRule = keyof typeof BUILD_TIME_RULES;

/** The check-warning event of a build-time rule that fired, or undefined when the check options skip it. */
export function buildTimeWarning(
  config: CheckConfig,
  rule: BuildTimeRule,
  message: string,
  file: string,
  line: number,
): BuildEvent | undefined {
  if (config.skipAll || config.skip.has(rule)) return undefined;
  return {
    type: 'check-warning',
    time: Date.now(),
    rule,
    message,
    ...BUILD_TIME_RULES[rule],
    file,
    line,
    endLine: line,
  };
}

/** `error=true` and a check fired: BuildKit's "lint violation found for rules: …". */
export class CheckFailedError extends TsbuildError {
  override name = 'CheckFailedError';
  constructor(readonly rules: string[]) {
    super('CHECK_FAILED', `lint violation found for rules: ${rules.join(', ')}`, {
      hint: 'fix what the warnings above point at, or skip their rules (# check=skip=Rule1,Rule2), or drop error=true',
    });
  }
}

export function checkConfig(parsed: ParseResult, buildArgs: Readonly<Record<string, string>>): CheckConfig {
  const fromArg = buildArgs[CHECK_ARG];
  try {
    return parseCheckOptions(fromArg ?? parsed.directives.check);
  } catch (e) {
    if (!(e instanceof CheckOptionError)) throw e;
    const where = fromArg !== undefined ? `--build-arg ${CHECK_ARG}` : `the # check= directive of ${parsed.file}`;
    throw new UsageError(`${e.message} (in ${where})`, { hint: e.hint });
  }
}

/** Runs the checks over `reached` stages (undefined: all) with the Buildfile's own settings. */
export function checkBuildfile(
  parsed: ParseResult,
  config: CheckConfig,
  reached: ReadonlySet<number> | undefined,
): CheckWarning[] {
  return runChecks({
    instructions: parsed.instructions.map((n) => typeInstruction(n, parsed.file)),
    escapeToken: parsed.directives.escape || '\\',
    config,
    ...(reached ? { reached } : {}),
  });
}

export function warningEvent(w: CheckWarning, file: string): BuildEvent {
  return {
    type: 'check-warning',
    time: Date.now(),
    rule: w.rule,
    message: w.message,
    description: w.description,
    url: w.url,
    file,
    line: w.line,
    endLine: w.endLine,
  };
}

/** What error=true makes of the warnings: an error naming their rules (first-seen order), or none. */
export function checkFailure(config: CheckConfig, warnings: CheckWarning[]): CheckFailedError | undefined {
  if (!config.error || warnings.length === 0) return undefined;
  return new CheckFailedError([...new Set(warnings.map((w) => w.rule))]);
}

/**
 * `experimental=…` asks for BuildKit's experimental rules, which tsbuild does not have: said rather than ignored.
 */
export function experimentalNotice(config: CheckConfig): string | undefined {
  if (config.experimental.length === 0) return undefined;
  return `check option experimental=${config.experimental.join(',')}: tsbuild has none of BuildKit's experimental rules (CopyIgnoredFile, InvalidDefinitionDescription), so none of them runs`;
}
