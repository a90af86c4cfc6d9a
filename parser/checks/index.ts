// Build checks (BuildKit's Dockerfile linter): rules that warn about a Buildfile that builds but is likely wrong or
// dated. Pure: typed instructions in, findings out; the builder emits them as events and the CLI prints them as
// buildx does. `# check=` / BUILDKIT_DOCKERFILE_CHECK choose the rules (config.ts).
import type { TypedInstruction } from '../instructions/types.js';
import { fromCasing, instructionCasing } from './casing.js';
import type { CheckConfig } from './config.js';
import { dispatched } from './dispatch.js';
import { fromArgs } from './from-args.js';
import { maintainer } from './maintainer.js';
import { RULES, type RuleName } from './rules.js';
import { stageNames } from './stage-names.js';
import { SuggestBudget } from './suggest.js';
import { undefinedVars } from './undefined-var.js';
import type { Finding, Split, Stage } from './types.js';

export { RULES, MESSAGES, type Rule, type RuleName } from './rules.js';
export { parseCheckOptions, emptyCheckConfig, CheckOptionError, type CheckConfig } from './config.js';
export type { Finding } from './types.js';

export interface CheckWarning extends Finding {
  description: string;
  url: string;
}

export interface CheckInput {
  /** The Buildfile's instructions, typed, in file order. */
  instructions: TypedInstruction[];
  escapeToken: string;
  config: CheckConfig;
  /**
   * The stages a build dispatches (indexes in FROM order): the rules BuildKit runs while dispatching look only at
   * these. Undefined: every stage (`--check`).
   */
  reached?: ReadonlySet<number>;
}

/** The warnings, in line order (stable), without the skipped rules. */
export function runChecks(input: CheckInput): CheckWarning[] {
  const { config } = input;
  if (config.skipAll) return [];
  const split = splitStages(input.instructions, input.escapeToken);
  const budget = new SuggestBudget();
  const findings = [
    ...maintainer(split),
    ...fromCasing(split),
    ...stageNames(split),
    ...instructionCasing(split),
    ...fromArgs(split, budget),
    ...dispatched(split, input.reached),
    ...undefinedVars(split, input.reached, budget),
  ];
  return findings
    .filter((f) => !config.skip.has(f.rule))
    .map((f) => ({ ...f, description: RULES[f.rule].description, url: RULES[f.rule].url }))
    .sort((a, b) => a.line - b.line);
}

/** buildx's one line per warning: `FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)`. */
export function formatShort(w: { rule: RuleName | string; message: string; line: number }): string {
  return `${w.rule}: ${w.message}${w.line > 0 ? ` (line ${w.line})` : ''}`;
}

export function splitStages(instructions: TypedInstruction[], escapeToken: string): Split {
  const meta: TypedInstruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.kind === 'from') {
      stages.push({ index: stages.length, from: ins, name: (ins.stageName ?? '').toLowerCase(), instructions: [] });
    } else if (stages.length === 0) meta.push(ins);
    else stages.at(-1)!.instructions.push(ins);
  }
  return { meta, stages, escapeToken };
}
