// UndefinedVar (dockerfile2llb reportUnmatchedVariables): a variable that a word BuildKit expands reads, but that no
// ENV or ARG of the stage (or of the stages it is built FROM) defines. The environment of a base image from a
// registry is not known before it is pulled, so only stages that start from `scratch` are checked.
import { ExpandError, processWord } from '../expand.js';
import type { TypedInstruction } from '../instructions/types.js';
import { MESSAGES } from './rules.js';
import { suggest, type SuggestBudget } from './suggest.js';
import { at, baseStage, type Finding, type Split, type Stage } from './types.js';

/** BuildKit's nonEnvArgs: ARGs that configure the build, never the environment. */
const NOT_ENV = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

interface Scope {
  /** Variables with a value (ENV, ARG with a value); PATH is always set. */
  env: Map<string, string>;
  /** ARG names declared in the stage, valued or not. */
  args: Set<string>;
}

export function undefinedVars(
  split: Split,
  reached: ReadonlySet<number> | undefined,
  budget: SuggestBudget,
): Finding[] {
  const out: Finding[] = [];
  const metaDefaults = new Map<string, string>();
  for (const ins of split.meta)
    if (ins.kind === 'arg')
      for (const { name, value } of ins.args) if (value !== undefined) metaDefaults.set(name, value);
  const ends = new Map<number, Scope>();
  for (const stage of split.stages) {
    const base = baseStage(split, stage);
    let start: Scope | undefined;
    if (base !== undefined) start = ends.get(base);
    else if (stage.from.image.toLowerCase() === 'scratch')
      start = { env: new Map([['PATH', '/usr/local/bin']]), args: new Set() };
    if (!start) continue; // a base image whose environment is not known: nothing to say
    const report = (f: Finding): void => {
      if (reached === undefined || reached.has(stage.index)) out.push(f);
    };
    ends.set(stage.index, walk(stage, start, metaDefaults, split.escapeToken, report, budget));
  }
  return out;
}

function walk(
  stage: Stage,
  start: Scope,
  metaDefaults: ReadonlyMap<string, string>,
  esc: string,
  report: (f: Finding) => void,
  budget: SuggestBudget,
): Scope {
  const scope: Scope = { env: new Map(start.env), args: new Set(start.args) };
  const check = (ins: TypedInstruction, word: string | undefined): void => {
    if (word === undefined) return;
    for (const name of unmatched(word, scope, esc)) {
      report({
        rule: 'UndefinedVar',
        message: MESSAGES.UndefinedVar(name, suggest(name, scope.env.keys(), budget)),
        ...at(ins),
      });
    }
  };
  for (const ins of stage.instructions) {
    switch (ins.kind) {
      case 'env':
      case 'label':
        // the whole instruction expands before it takes effect
        for (const { key, value } of ins.pairs) {
          check(ins, key);
          check(ins, value);
        }
        if (ins.kind === 'env') for (const { key, value } of ins.pairs) scope.env.set(key, value);
        break;
      case 'copy':
        for (const s of ins.sources) if (s.kind === 'path') check(ins, s.word);
        check(ins, ins.dest);
        check(ins, ins.chown);
        check(ins, ins.chmod);
        break;
      case 'workdir':
      case 'user':
      case 'stopsignal':
        check(ins, ins.word);
        break;
      case 'volume':
        for (const w of ins.words) check(ins, w);
        break;
      case 'arg':
        for (const { name, value } of ins.args) {
          check(ins, value);
          scope.args.add(name);
          const v = value ?? metaDefaults.get(name);
          if (v !== undefined && !NOT_ENV.has(name)) scope.env.set(name, v);
        }
        break;
      default:
        break;
    }
  }
  return scope;
}

/** The variables `word` reads that the scope does not define, in order. */
function unmatched(word: string, scope: Scope, esc: string): string[] {
  const missing = new Set<string>();
  try {
    processWord(
      word,
      {
        get: (name: string) => {
          const v = scope.env.get(name);
          if (v === undefined) missing.add(name);
          return v;
        },
      },
      { escapeToken: esc },
    );
  } catch (e) {
    if (e instanceof ExpandError) return []; // the build reports it
    throw e;
  }
  return [...missing].filter((n) => !scope.args.has(n) && !NOT_ENV.has(n));
}
