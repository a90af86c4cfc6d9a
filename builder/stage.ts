// One stage: its base (scratch, another stage, or an image), ONBUILD triggers of the base, then each instruction
// dispatched to its step, with step events around it.
import { formatPlatform, normalizePlatform, TsbuildError, UsageError } from '../oci/index.js';
import type { ImageConfigFile, Platform } from '../oci/index.js';
import { checkRunnable, runnerFor } from '../runtime/index.js';
import { clipLine } from '../parser/index.js';
import type { Heredoc, TypedInstruction } from '../parser/index.js';
import { cacheDisabledFor, cacheKey } from './cache.js';
import { BuildError, NotCachedError } from './errors.js';
import type { StepRef } from './events.js';
import { cloneConfig, scratchConfig } from './image-config.js';
import { refuseUnsupported, typeInstruction, type StagePlan } from './plan.js';
import type { BuildEnv, StageState, StepCtx } from './steps/types.js';
import { basePlatformWarning, platformArg } from './platform.js';
import { inputsFile, inputsName, saveInputs, type StepFacets } from './reasons.js';

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
  const steps = [...(await namedTreeCopy(env, sp)), ...triggers, ...sp.instructions];
  const total = steps.length + 1;
  const ref = (ins: TypedInstruction, index: number): StepRef => ({
    stage: env.platformLabel !== undefined ? `${env.platformLabel} ${sp.displayName}` : sp.displayName,
    ...(env.platformLabel !== undefined ? { platform: env.platformLabel } : {}),
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
      await saveInputs(
        inputsFile(env.store.root, env.plan.file, inputsName(sp.displayName, env.platformLabel)),
        st.facets,
      ).catch(() => undefined);
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
      // a form tsbuild refuses stays a usage error (exit 2), after its step-end; onlyIfCached's stop stays itself
      const err =
        e instanceof BuildError || e instanceof UsageError || e instanceof NotCachedError
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

/**
 * A `--build-context` file tree as FROM: one `COPY --from=NAME / /` onto scratch, so the tree becomes a layer
 * through COPY's own sources, hashing and cache (the context's content is the key).
 */
async function namedTreeCopy(env: BuildEnv, sp: StagePlan): Promise<TypedInstruction[]> {
  if (sp.base.kind !== 'named' || env.named?.get(sp.base.name)?.kind !== 'context') return [];
  const { parseBuildfile } = await (await import('../parser/index.js')).loadParser();
  const file = `${env.plan.file} (--build-context ${sp.base.name})`;
  return parseBuildfile(`COPY --from=${sp.base.name} / /\n`, file).instructions.map((n) => typeInstruction(n, file));
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
        ...(b.platform ? { platform: b.platform } : {}),
      },
      fromCached: true,
    };
  }
  let image: { record: import('../store/index.js').ImageRecord; pulled: boolean };
  if (sp.base.kind === 'named') {
    const n = env.named?.get(sp.base.name);
    if (n?.kind === 'context') {
      // a file tree as FROM is scratch with the tree on top (namedTreeCopy), as BuildKit's local context as a base
      return baseState(env, { ...sp, base: { kind: 'scratch' } });
    }
    if (!n) throw new Error(`internal: no build context ${sp.base.name}`);
    image = await n.image(sp.platform);
  } else image = await env.resolveBaseImage(sp.base.ref, sp.platform);
  const { record, pulled } = image;
  const platform = basePlatform(env, sp, record.config);
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
      ...(platform !== sp.platform ? { platform } : {}),
    },
    fromCached: !pulled,
  };
}

/**
 * The platform a stage on an image base is, warning as BuildKit does when the base is not of the platform asked for.
 * With no --platform and no FROM --platform, a base of another platform makes the stage that platform (BuildKit's
 * autoDetectPlatform for an implicit target): the image is labelled with what its binaries are, and the warning
 * fires only when this host cannot run them. Either way, a stage that runs something (its RUN steps, or the base's
 * ONBUILD RUN triggers) on a base this host cannot run fails here, before its first step, naming what it lacks.
 */
function basePlatform(env: BuildEnv, sp: StagePlan, config: ImageConfigFile): Platform {
  // as the base's config says it (the image keeps it), compared normalised
  const given: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  const base = normalizePlatform(given);
  const plan = normalizePlatform(sp.platform);
  if (!base.os || !base.architecture || (base.os === plan.os && base.architecture === plan.architecture))
    return sp.platform;
  const runs =
    sp.instructions.some((i) => i.kind === 'run') || (config.config?.OnBuild ?? []).some((t) => /^\s*run\b/i.test(t));
  if (runs)
    checkRunnable([
      { platform: base, what: `RUN in stage ${sp.displayName} (its base ${sp.baseName} is ${formatPlatform(base)})` },
    ]);
  const implicit = env.implicitPlatform && sp.from.platform === undefined;
  const warning = basePlatformWarning(sp.baseName, sp.platform, config);
  if (warning && !(implicit && runnerFor(base).kind !== 'missing'))
    env.check('InvalidBaseImagePlatform', warning, sp.from.range.line);
  return implicit ? given : sp.platform;
}
