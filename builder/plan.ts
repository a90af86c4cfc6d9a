// Buildfile instructions + build args → a BuildPlan: the stages as a DAG (FROM stage, COPY --from, RUN --mount
// from=), the global (meta) ARG scope, and the stages the target needs, in an order where dependencies come first.
// Each node of the parse becomes a typed instruction here (parser/instructions/): the steps read fields, not flags.
import { FlagError, toTypedInstruction } from '../parser/index.js';
import type { FromInstruction, Instruction, ParseResult, TypedInstruction } from '../parser/index.js';
import type { Platform } from '../oci/index.js';
import { expand, type Vars } from './expand.js';
import { PlanError, UnsupportedFormError } from './errors.js';
import { contextKey } from './named-key.js';
import { SOURCE_DATE_EPOCH } from './epoch.js';
import { parseCsv } from './flags.js';
import { parsePlatform } from '../oci/index.js';
import { platformArgs, PROXY_ARGS } from './platform.js';

export type BaseSpec =
  | { kind: 'scratch' }
  | { kind: 'stage'; stage: number }
  | { kind: 'image'; ref: string }
  /** A `--build-context` (builder/named-contexts.ts), by its key. */
  | { kind: 'named'; name: string };

export interface StagePlan {
  index: number;
  /** Lower-cased `AS name`, if any. */
  name?: string;
  /** `name`, or `stage-N`: what progress lines show. */
  displayName: string;
  from: FromInstruction;
  /** FROM's image word after meta-arg substitution. */
  baseName: string;
  base: BaseSpec;
  platform: Platform;
  /** Instructions after FROM. */
  instructions: TypedInstruction[];
  /** Stage indexes this stage reads from, and images it copies/mounts from. */
  dependsOn: number[];
  imageDeps: string[];
  /** A `--build-context` of the stage's name replaces it: its instructions do not run (BuildKit's rule). */
  replaced?: boolean;
}

export interface BuildPlan {
  file: string;
  escapeToken: string;
  stages: StagePlan[];
  /** Index of the stage whose result is the image. */
  target: number;
  /** Stage indexes to build, dependencies first. */
  needed: number[];
  /** Global scope: meta ARGs (with --build-arg overrides) and the predefined platform args. */
  metaArgs: Map<string, string>;
  /** Meta ARGs as declared (name → declared), for stage re-declaration. */
  metaDeclared: Set<string>;
  buildArgs: Map<string, string>;
  buildPlatform: Platform;
  targetPlatform: Platform;
}

export interface PlanInput {
  parsed: ParseResult;
  buildArgs: Record<string, string>;
  target?: string;
  buildPlatform: Platform;
  targetPlatform: Platform;
  /** `--build-context` names, as contextKey() gives them. */
  namedContexts?: ReadonlySet<string>;
}

/** A flag BuildKit knows that tsbuild cannot honour: a usage error (exit 2), as for the CLI's own flags. */
export class UnsupportedFlagError extends UnsupportedFormError {
  override name = 'UsageError';
}

/** The node as a typed instruction; a flag that cannot be read is a PlanError at its line. */
export function typeInstruction(node: Instruction, file: string): TypedInstruction {
  try {
    return toTypedInstruction(node);
  } catch (e) {
    if (e instanceof FlagError) throw new PlanError(e.message, file, e.line);
    throw e;
  }
}

/** Refuses an instruction that uses a flag tsbuild cannot honour, naming the flag. */
export function refuseUnsupported(ins: TypedInstruction, file: string): void {
  const flag = ins.unsupported[0];
  if (flag !== undefined)
    throw new UnsupportedFlagError(`${ins.keyword} ${flag} is not supported by tsbuild`, file, ins.range.line);
}

export function makePlan(input: PlanInput): BuildPlan {
  const { parsed } = input;
  const file = parsed.file;
  const esc = parsed.directives.escape || '\\';
  const buildArgs = new Map(Object.entries(input.buildArgs));
  const metaArgs: Map<string, string> = platformArgs(input.buildPlatform, input.targetPlatform);
  const metaDeclared = new Set<string>();
  const named = (word: string): string | undefined => {
    if (!input.namedContexts || input.namedContexts.size === 0) return undefined;
    const k = contextKey(word);
    return input.namedContexts.has(k) ? k : undefined;
  };

  const stages: StagePlan[] = [];
  let current: StagePlan | undefined;
  for (const node of parsed.instructions) {
    const ins = typeInstruction(node, file);
    if (ins.kind === 'from') {
      current = planFrom(ins, stages, metaArgs, esc, file, input.targetPlatform, named);
      stages.push(current);
      continue;
    }
    if (!current) {
      if (ins.kind !== 'arg')
        throw new PlanError(`${ins.keyword} before the first FROM (only ARG may come first)`, file, ins.range.line);
      for (const { name, value } of ins.args) {
        metaDeclared.add(name);
        const v =
          buildArgs.get(name) ?? (value === undefined ? undefined : expandOrFail(value, metaArgs, esc, file, ins));
        if (v !== undefined) metaArgs.set(name, v);
        else metaArgs.delete(name);
      }
      continue;
    }
    if (!current.replaced) current.instructions.push(ins);
  }
  if (stages.length === 0) throw new PlanError('no FROM instruction: nothing to build', file);

  // Dependencies through COPY --from and RUN --mount from=.
  for (const st of stages) {
    for (const ins of st.instructions) {
      const refs: string[] = [];
      if (ins.kind === 'copy' && ins.from) refs.push(ins.from);
      if (ins.kind === 'run') {
        for (const mount of ins.mounts) {
          const m = parseCsv(mount);
          if (m.from) refs.push(m.from);
        }
      }
      for (const r of refs) {
        const word = expandOrFail(r, metaArgs, esc, file, ins);
        const dep = findStage(stages, word, st.index);
        if (dep !== undefined) {
          if (dep >= st.index)
            throw new PlanError(`stage "${word}" is not defined before it is used`, file, ins.range.line);
          if (!st.dependsOn.includes(dep)) st.dependsOn.push(dep);
        } else if (named(word) === undefined && !st.imageDeps.includes(word)) st.imageDeps.push(word);
      }
    }
  }

  let target = stages.length - 1;
  if (input.target !== undefined) {
    const t = findStage(stages, input.target, stages.length);
    if (t === undefined || (stages[t]!.name === undefined && !/^\d+$/.test(input.target))) {
      const names = stages.map((s) => s.name).filter(Boolean);
      throw new PlanError(
        `target stage "${input.target}" could not be found (stages: ${names.join(', ') || 'none named'})`,
        file,
      );
    }
    target = t;
  }
  const needed: number[] = [];
  const visit = (i: number): void => {
    if (needed.includes(i)) return;
    for (const d of stages[i]!.dependsOn) visit(d);
    needed.push(i);
  };
  visit(target);
  // Before any step runs, and only for what is built (as the entitlements are checked).
  for (const i of needed) for (const ins of [stages[i]!.from, ...stages[i]!.instructions]) refuseUnsupported(ins, file);

  return {
    file,
    escapeToken: esc,
    stages,
    target,
    needed,
    metaArgs,
    metaDeclared,
    buildArgs,
    buildPlatform: input.buildPlatform,
    targetPlatform: input.targetPlatform,
  };
}

function planFrom(
  ins: FromInstruction,
  stages: StagePlan[],
  metaArgs: Vars,
  esc: string,
  file: string,
  targetPlatform: Platform,
  named: (word: string) => string | undefined,
): StagePlan {
  const line = ins.range.line;
  const name = ins.stageName?.toLowerCase();
  if (name !== undefined && !/^[a-z][a-z0-9-_.]*$/.test(name))
    throw new PlanError(
      `invalid name for build stage: "${name}", name can't start with a number or contain symbols`,
      file,
      line,
    );
  if (name !== undefined && stages.some((s) => s.name === name))
    throw new PlanError(`duplicate stage name "${name}"`, file, line);
  const baseName = expandOrFail(ins.image, metaArgs, esc, file, ins);
  if (baseName === '') throw new PlanError(`FROM: base name (${ins.image}) should not be blank`, file, line);
  let platform = targetPlatform;
  if (ins.platform !== undefined) {
    const p = expandOrFail(ins.platform, metaArgs, esc, file, ins);
    try {
      platform = parsePlatform(p);
    } catch (e) {
      throw new PlanError((e as Error).message, file, line);
    }
  }
  const index = stages.length;
  let base: BaseSpec;
  const stageIdx = findStage(stages, baseName, index);
  // a context named as the stage replaces it; else FROM reads a stage, a context, or an image, in that order
  const replacedBy = name !== undefined ? named(name) : undefined;
  const byName = named(baseName);
  if (replacedBy !== undefined) base = { kind: 'named', name: replacedBy };
  else if (baseName.toLowerCase() === 'scratch') base = { kind: 'scratch' };
  else if (stageIdx !== undefined && stages[stageIdx]!.name === baseName.toLowerCase())
    base = { kind: 'stage', stage: stageIdx };
  else if (byName !== undefined) base = { kind: 'named', name: byName };
  else base = { kind: 'image', ref: baseName };
  // a stage built on another stage runs that stage's binaries: it is of that stage's platform (BuildKit's
  // d.platform = d.base.platform), unless its FROM names one
  if (base.kind === 'stage' && ins.platform === undefined) platform = stages[base.stage]!.platform;
  return {
    index,
    ...(name !== undefined ? { name } : {}),
    displayName: name ?? `stage-${index}`,
    from: ins,
    baseName,
    base,
    platform,
    instructions: [],
    dependsOn: base.kind === 'stage' ? [base.stage] : [],
    imageDeps: [],
    ...(replacedBy !== undefined ? { replaced: true } : {}),
  };
}

/** A stage by name (case-insensitive) or by number, among the stages before `before`. */
export function findStage(stages: StagePlan[], word: string, before: number): number | undefined {
  const w = word.toLowerCase();
  const byName = stages.findIndex((s) => s.index < before && s.name === w);
  if (byName >= 0) return byName;
  if (/^\d+$/.test(w)) {
    const n = Number(w);
    if (n < before && n < stages.length) return n;
  }
  return undefined;
}

function expandOrFail(word: string, vars: Vars, esc: string, file: string, ins: TypedInstruction): string {
  try {
    return expand(word, vars, esc);
  } catch (e) {
    throw new PlanError(`${ins.keyword}: ${(e as Error).message}`, file, ins.range.line);
  }
}

/** Build args given but never declared by an ARG the build used (docker warns about them). */
export function unusedBuildArgs(plan: BuildPlan, used: ReadonlySet<string>): string[] {
  // SOURCE_DATE_EPOCH is consumed by the build itself (builder/epoch.ts), declared or not, and
  // BUILDKIT_DOCKERFILE_CHECK configures the build checks (builder/checks.ts), BUILDKIT_CONTEXT_KEEP_GIT_DIR a Git
  // context (builder/sources/git-context.ts)
  return [...plan.buildArgs.keys()].filter(
    (k) =>
      !used.has(k) &&
      !plan.metaDeclared.has(k) &&
      !PROXY_ARGS.has(k) &&
      k !== SOURCE_DATE_EPOCH &&
      k !== 'BUILDKIT_DOCKERFILE_CHECK' &&
      k !== 'BUILDKIT_CONTEXT_KEEP_GIT_DIR',
  );
}
