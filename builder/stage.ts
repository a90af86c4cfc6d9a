// One stage: its base (scratch, another stage, or an image), ONBUILD triggers of the base, then each instruction
// dispatched to its step, with step events around it.
import { TsbuildError, UsageError } from '../oci/index.js';
import { clipLine } from '../parser/index.js';
import type { Heredoc, TypedInstruction } from '../parser/index.js';
import { cacheDisabledFor, cacheKey } from './cache.js';
import { BuildError } from './errors.js';
import type { StepRef } from './events.js';
import { cloneConfig, scratchConfig } from './image-config.js';
import { refuseUnsupported, typeInstruction, type StagePlan } from './plan.js';
import type { BuildEnv, StageState, StepCtx } from './steps/types.js';
import { basePlatformWarning, platformArg } from './platform.js';
import { inputsFile, saveInputs, type StepFacets } from './reasons.js';

/**
 * The instruction as written, on one line (continuations joined; a heredoc shows its first line), cut at 1000
 * characters: every progress line and event repeats it.
 */
export function displayInstruction(ins: { original: string; heredocs?: readonly Heredoc[] }): string {
  const nl = (ins.heredocs?.length ?? 0) > 0 ? ins.original.indexOf('\n') : -1;
  const first = nl >= 0 ? ins.original.slice(0, nl) : ins.original;
  return clipLine(
    first
      .replace(/[\\`][ \t]*\r?\n/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
    1000,
  );
}

export async function runStage(env: BuildEnv, sp: StagePlan): Promise<StageState> {
  const state = await baseState(env, sp);
  const fromCached = state.fromCached;
  // ONBUILD triggers of the base run first (and are not inherited further).
  const triggers: TypedInstruction[] = [];
  const onbuild = state.state.config.config.OnBuild ?? [];
  if (onbuild.length > 0) {
    const { parseBuildfile } = await (await import('../parser/index.js')).loadParser();
    const file = `${env.plan.file} (ONBUILD of ${sp.baseName})`;
    for (const t of onbuild) {
      for (const node of parseBuildfile(t, file).instructions) {
        const ins = typeInstruction(node, file);
        refuseUnsupported(ins, file);
        triggers.push(ins);
      }
    }
    state.state.config.config.OnBuild = null;
  }
  const steps = [...triggers, ...sp.instructions];
  const total = steps.length + 1;
  const ref = (ins: TypedInstruction, index: number): StepRef => ({
    stage: sp.displayName,
    index,
    total,
    instruction: displayInstruction(ins),
    line: ins.range.line,
  });
  const fromRef = ref(sp.from, 1);
  env.emit({ type: 'step-start', time: Date.now(), step: fromRef });
  if (fromCached) env.emit({ type: 'step-cached', time: Date.now(), step: fromRef });
  env.emit({ type: 'step-end', time: Date.now(), step: fromRef, cached: fromCached, durationMs: 0 });
  env.tally.step(fromCached);

  const st = state.state;
  st.facets[1] = { instruction: fromRef.instruction, base: st.baseId };
  try {
    await runSteps(env, sp, st, steps, ref);
  } finally {
    // Keep this run's inputs for the next build's miss reasons (only when something ran: a no-op writes nothing).
    if (st.missed)
      await saveInputs(inputsFile(env.store.root, env.plan.file, sp.displayName), st.facets).catch(() => undefined);
  }
  return st;
}

async function runSteps(
  env: BuildEnv,
  sp: StagePlan,
  st: StageState,
  steps: TypedInstruction[],
  ref: (ins: TypedInstruction, index: number) => StepRef,
): Promise<void> {
  for (let i = 0; i < steps.length; i++) {
    const ins = steps[i]!;
    const step = ref(ins, i + 2);
    if (env.signal?.aborted) throw new BuildError('build interrupted', { file: env.plan.file, step });
    const t0 = Date.now();
    env.emit({ type: 'step-start', time: t0, step });
    const sc: StepCtx = { env, state: st, ins, step };
    let hit: boolean;
    try {
      hit = await dispatch(sc);
    } catch (e) {
      // a form tsbuild refuses stays a usage error (exit 2), after its step-end
      const err =
        e instanceof BuildError || e instanceof UsageError
          ? e
          : new BuildError((e as Error).message ?? String(e), {
              file: env.plan.file,
              step,
              source: ins.original,
              // what to do, when the part that failed said (a runtime or store error's hint)
              ...(e instanceof TsbuildError && e.hint !== undefined ? { hint: e.hint } : {}),
            });
      if (err !== e) (err as { cause?: unknown }).cause = e;
      env.emit({
        type: 'step-end',
        time: Date.now(),
        step,
        cached: false,
        durationMs: Date.now() - t0,
        error: err.message,
      });
      throw err;
    }
    env.tally.step(hit);
    if (hit) {
      env.emit({ type: 'step-cached', time: Date.now(), step });
    }
    const layer = st.layers.at(-1);
    const madeLayer = !st.history.at(-1)?.empty_layer && layer;
    env.emit({
      type: 'step-end',
      time: Date.now(),
      step,
      cached: hit,
      durationMs: Date.now() - t0,
      ...(madeLayer ? { layer: { digest: layer.descriptor.digest, size: layer.descriptor.size } } : {}),
    });
  }
}

/** Step modules load on first use: a build without COPY never loads the COPY machinery. */
async function dispatch(sc: StepCtx): Promise<boolean> {
  const { ins } = sc;
  switch (ins.kind) {
    case 'run':
      return (await import('./steps/run.js')).runStep({ ...sc, ins });
    case 'copy':
      return (await import('./steps/copy.js')).copyStep({ ...sc, ins });
    case 'workdir':
      return (await import('./steps/workdir.js')).workdirStep({ ...sc, ins });
    case 'from':
      throw new BuildError('FROM inside a stage', { file: sc.env.plan.file, step: sc.step });
    default:
      return (await import('./steps/metadata.js')).metadataStep({ ...sc, ins });
  }
}

async function baseState(env: BuildEnv, sp: StagePlan): Promise<{ state: StageState; fromCached: boolean }> {
  const disabled = cacheDisabledFor(env.cachePolicy, sp.name, sp.index);
  const common = {
    plan: sp,
    args: new Map<string, string | undefined>(),
    cmdSet: false,
    missed: disabled,
    noCache: disabled,
    created: '',
    facets: [] as StepFacets[],
  };
  if (sp.base.kind === 'scratch') {
    const config = scratchConfig(sp.platform);
    return {
      state: {
        ...common,
        config,
        layers: [],
        lowerdirs: [],
        history: [],
        key: cacheKey('', ['scratch', platformArg(sp.platform)]),
        baseId: 'scratch',
      },
      fromCached: true,
    };
  }
  if (sp.base.kind === 'stage') {
    const b = await env.stage(sp.base.stage);
    return {
      state: {
        ...common,
        config: cloneConfig(b.config),
        layers: [...b.layers],
        lowerdirs: [...b.lowerdirs],
        history: [...b.history],
        key: b.key,
        created: b.created,
        missed: disabled,
        baseId: `stage ${b.plan.displayName} ${b.key}`,
      },
      fromCached: true,
    };
  }
  const { record, pulled } = await env.resolveBaseImage(sp.base.ref, sp.platform);
  const warning = basePlatformWarning(sp.baseName, sp.platform, record.config);
  if (warning) env.check('InvalidBaseImagePlatform', warning, sp.from.range.line);
  const config = cloneConfig(record.config);
  const diffIDs = record.config.rootfs.diff_ids;
  const layers = record.manifest.layers.map((d, i) => ({ descriptor: d, diffID: diffIDs[i]! }));
  return {
    state: {
      ...common,
      config,
      layers,
      lowerdirs: layers.map(() => undefined),
      history: [...(record.config.history ?? [])],
      key: cacheKey('', ['FROM', record.configDigest]),
      baseId: `${sp.baseName}@${record.configDigest}`,
    },
    fromCached: !pulled,
  };
}
