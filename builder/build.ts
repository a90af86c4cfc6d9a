// Orchestration: read and plan the Buildfile, open the store and context, run the needed stages (independent
// ones in parallel through a p-queue), then assemble the image, tag it and write the requested outputs.
// Modules that a fully cached rebuild does not need (runtime, registry client, exporters) load lazily.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type PQueue from 'p-queue';
import { normalizeName, UsageError } from '../oci/index.js';
import type { Platform } from '../oci/index.js';
import type { Store } from '../store/index.js';
import {
  CheckFailedError,
  checkBuildfile,
  checkConfig,
  checkFailure,
  experimentalNotice,
  warningEvent,
} from './checks.js';
import type { CheckConfig } from '../parser/index.js';
import { BuildContext } from './context.js';
import { checkEntitlements } from './entitlements.js';
import { BuildError, PlanError } from './errors.js';
import type { BuildEvent } from './events.js';
import type { BuildOptions, BuildResult } from './options.js';
import { sourceDateEpoch } from './epoch.js';
import { makePlan, unusedBuildArgs, type BuildPlan } from './plan.js';
import { planOutputs, type OutputPlan } from './output-plan.js';
import { syntaxWarning } from './syntax.js';
import { hostPlatform, parsePlatform } from '../oci/index.js';
import { runStage } from './stage.js';
import type { BuildEnv, StageState } from './steps/types.js';
import { assemble } from './assemble.js';
import { readAndParse } from './buildfile.js';
import { baseImageResolver, lazyNetwork, makeEnv, type BaseImageResolver } from './env.js';

/**
 * The phases, in order: plan (read, parse, plan, check entitlements), start the base-image pulls, open the context,
 * run the stages, then finish the image (assemble, export cache, outputs, tags). Some overlap on purpose: the store
 * opens while a directory context's Buildfile is parsed, and base images resolve while the context is read.
 */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  checkArguments(opts);
  const emit = (e: BuildEvent): void => opts.onEvent?.(e);
  // names, pushes and outputs that contradict each other fail before anything runs
  const outputs = planOutputs(opts);
  // a malformed --build-arg SOURCE_DATE_EPOCH fails before anything starts
  const epoch =
    opts.sourceDateEpoch !== undefined ? { epoch: opts.sourceDateEpoch } : sourceDateEpoch(opts.buildArgs, process.env);
  // The store opens (loading its modules, and starting a --cache-from import) while the Buildfile of a directory
  // context is read and parsed; a tar context is unpacked into the store first (its Buildfile may be inside).
  const early = typeof opts.context === 'string' ? readAndParse(opts, undefined) : undefined;
  early?.catch(() => undefined);
  const store = await openBuildStore(opts, emit);
  const runId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpDir = join(store.root, 'builder', 'tmp', runId);
  await mkdir(tmpDir, { recursive: true });
  const held: Held = {
    store,
    tmpDir,
    network: lazyNetwork(),
    context: undefined,
    containersStarted: () => false,
    pullsStored: async () => undefined,
  };
  try {
    // A tar context is unpacked first: its Buildfile may be inside it.
    if (typeof opts.context !== 'string') held.context = await BuildContext.openTar(opts.context.tar, tmpDir);
    const { plan, buildfilePath, checks } = await planBuild(
      opts,
      early ?? readAndParse(opts, held.context?.root),
      emit,
    );
    emit({
      type: 'build-start',
      time: Date.now(),
      stages: plan.needed.map((i) => ({
        name: plan.stages[i]!.displayName,
        dependsOn: plan.stages[i]!.dependsOn.map((d) => plan.stages[d]!.displayName),
      })),
    });
    if (checks.notice) emit({ type: 'log', time: Date.now(), level: 'warn', message: checks.notice });
    for (const w of checks.warnings) emit(warningEvent(w, plan.file));
    if (checks.failure) throw checks.failure;
    const resolveBaseImage = startBaseImages(opts, store, plan, emit);
    held.pullsStored = resolveBaseImage.stored;
    if (typeof opts.context === 'string') {
      held.context = await BuildContext.openDir(opts.context, {
        ...(buildfilePath ? { buildfile: buildfilePath } : {}),
        memoDir: join(store.root, 'builder'),
      });
    }
    if (!held.context) throw new PlanError('no build context', plan.file);

    if (epoch.warning) emit({ type: 'log', time: Date.now(), level: 'warn', message: epoch.warning });
    const stages = new Map<number, Promise<StageState>>();
    // aborted by the caller (Ctrl-C) or by the first stage that fails: the stages beside it stop
    const cancel = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, cancel.signal]) : cancel.signal;
    const env = await makeEnv(
      { ...opts, signal },
      store,
      plan,
      held.context,
      tmpDir,
      emit,
      resolveBaseImage,
      held.network.get,
      stages,
      epoch.epoch,
      checks.config,
    );
    held.containersStarted = () => env.tally.containersStarted;
    const final = await runStages(env, stages, opts, cancel);
    // a check that fired while the stages ran (InvalidBaseImagePlatform) fails an error=true build, as BuildKit's
    if (checks.config.error && env.tally.checksFired.size > 0) throw new CheckFailedError([...env.tally.checksFired]);
    for (const a of unusedBuildArgs(plan, env.tally.usedArgs)) {
      emit({ type: 'log', time: Date.now(), level: 'warn', message: `build arg ${a} was not consumed by any stage` });
    }
    const result = await finishImage(env, final, opts, resolveBaseImage, outputs);
    emit({
      type: 'build-end',
      time: Date.now(),
      ok: true,
      imageId: result.imageId,
      manifestDigest: result.manifestDigest,
    });
    return result;
  } catch (e) {
    emit({ type: 'build-end', time: Date.now(), ok: false, error: (e as Error).message });
    throw e;
  } finally {
    await release(held);
  }
}

/**
 * What the caller got wrong is said before anything runs (exit 2), not after a long build: a tag that is not an image
 * name, a context directory that does not exist.
 */
function checkArguments(opts: BuildOptions): void {
  for (const t of opts.tags ?? []) {
    try {
      normalizeName(t);
    } catch (e) {
      throw new UsageError(`invalid tag "${t}": ${(e as Error).message}`, {
        hint: 'a tag is [registry/]repository[:tag] in lower case, as for docker build -t',
      });
    }
  }
  if (typeof opts.context === 'string') {
    const st = statSync(opts.context, { throwIfNoEntry: false });
    if (st === undefined)
      throw new UsageError(`context directory "${opts.context}" does not exist`, {
        hint: 'give the directory to build from (. for the current one)',
      });
    if (!st.isDirectory()) throw new UsageError(`context "${opts.context}" is not a directory`);
  }
}

/** What a build holds open until it ends, whatever phase it ended in. */
interface Held {
  store: Store;
  tmpDir: string;
  network: ReturnType<typeof lazyNetwork>;
  context: BuildContext | undefined;
  containersStarted(): boolean;
  /** Settles when the pulls started so far have written the store. */
  pullsStored(): Promise<void>;
}

/** Phase 1: the parsed Buildfile as a plan for the target platform, its entitlements checked. */
async function planBuild(
  opts: BuildOptions,
  parse: ReturnType<typeof readAndParse>,
  emit: (e: BuildEvent) => void,
): Promise<{ plan: BuildPlan; buildfilePath?: string; checks: PlannedChecks }> {
  const { buildfilePath, parsed } = await parse;
  const syntax = syntaxWarning(parsed.directives.syntax);
  if (syntax) emit({ type: 'log', time: Date.now(), level: 'warn', message: syntax });
  const buildPlatform = hostPlatform();
  let targetPlatform: Platform = buildPlatform;
  if (opts.platform) {
    try {
      targetPlatform = parsePlatform(opts.platform);
    } catch (e) {
      // the caller's option, not the Buildfile's
      throw new UsageError(`platform: ${(e as Error).message}`);
    }
  }
  const plan = makePlan({
    parsed,
    buildArgs: opts.buildArgs ?? {},
    ...(opts.target !== undefined ? { target: opts.target } : {}),
    buildPlatform,
    targetPlatform,
  });
  checkEntitlements(plan, opts);
  // the build checks see the stages the build reaches, as BuildKit's do while it dispatches them
  const config = checkConfig(parsed, opts.buildArgs ?? {});
  const warnings = checkBuildfile(parsed, config, new Set(plan.needed));
  const failure = checkFailure(config, warnings);
  const notice = experimentalNotice(config);
  return {
    plan,
    ...(buildfilePath ? { buildfilePath } : {}),
    checks: { config, warnings, ...(failure ? { failure } : {}), ...(notice ? { notice } : {}) },
  };
}

interface PlannedChecks {
  config: CheckConfig;
  warnings: ReturnType<typeof checkBuildfile>;
  /** error=true and a check fired: the build stops once the warnings are out. */
  failure?: Error;
  /** What the check options asked for that tsbuild cannot do. */
  notice?: string;
}

/** Phase 2: base images of the needed stages start resolving (manifest and config; layers stay lazy). */
function startBaseImages(
  opts: BuildOptions,
  store: Store,
  plan: BuildPlan,
  emit: (e: BuildEvent) => void,
): BaseImageResolver {
  const resolveBaseImage = baseImageResolver(opts, store, emit);
  for (const i of plan.needed) {
    const base = plan.stages[i]!.base;
    // the stage that needs it awaits it again and sees the failure then
    if (base.kind === 'image') resolveBaseImage(base.ref, plan.stages[i]!.platform).catch(() => undefined);
  }
  return resolveBaseImage;
}

/**
 * Phase 3: every needed stage runs as soon as the stages it depends on are done, at most `concurrency` at once.
 * Returns the target's state once every needed stage has finished. The first stage to fail fails the build at once,
 * as BuildKit's does: the queued stages are dropped, the running ones are cancelled (their containers killed, their
 * mounts released), and once they have settled the first error is thrown.
 */
async function runStages(
  env: BuildEnv,
  stages: Map<number, Promise<StageState>>,
  opts: BuildOptions,
  cancel: AbortController,
): Promise<StageState> {
  const { plan } = env;
  let firstError: { error: unknown } | undefined;
  // One stage needs no queue (and a no-op rebuild of it does not load p-queue).
  const queue: Pick<PQueue, 'add' | 'clear'> =
    plan.needed.length > 1
      ? new (await import('p-queue')).default({ concurrency: Math.max(1, opts.concurrency ?? 2) })
      : { add: ((fn: () => Promise<unknown>) => fn()) as PQueue['add'], clear: () => undefined };
  for (const i of plan.needed) {
    const sp = plan.stages[i]!;
    const p = (async () => {
      await Promise.all(sp.dependsOn.map((d) => env.stage(d)));
      return (await queue.add(() => runStage(env, sp), { throwOnTimeout: true })) as StageState;
    })();
    // awaited below and by the stages that depend on it; until then a failure must not be an unhandled rejection.
    // The first failure is the build's error; the cancelled stages' own errors ("killed") come after it.
    p.catch((error: unknown) => {
      firstError ??= { error };
      cancel.abort();
    });
    stages.set(i, p);
  }
  try {
    await Promise.all(plan.needed.map((i) => env.stage(i)));
    return await env.stage(plan.target);
  } catch (e) {
    queue.clear();
    cancel.abort();
    await Promise.allSettled([...stages.values()]);
    throw firstError ? firstError.error : e;
  }
}

/** Phase 4: the image's config and manifest, the build cache export, the outputs and the tags. */
async function finishImage(
  env: BuildEnv,
  final: StageState,
  opts: BuildOptions,
  resolveBaseImage: BaseImageResolver,
  outputs: OutputPlan,
): Promise<BuildResult> {
  const { store, emit } = env;
  // the base images' records (written while the steps were looked up) are in the store before the image that
  // names their layers is
  const basesStored = resolveBaseImage.stored();
  basesStored.catch(() => undefined);
  // and the records of registry-cache hits are written meanwhile (they need no image)
  const hooks = await import('./remote-cache/hooks.js');
  const hitsRecorded = hooks.recordCacheHits(store, opts);
  hitsRecorded.catch(() => undefined);
  const image = await assemble(env, final, opts);
  await basesStored;
  await hitsRecorded;
  await hooks.exportBuildCache(store, opts, image, emit);
  const { writeOutputs } = await import('./outputs.js');
  const pushed = await writeOutputs(env, image, opts, outputs);
  const tags = outputs.storeNames;
  for (const t of tags) await store.images.tag(t, image.manifest);
  return {
    ...(pushed ? { pushed } : {}),
    imageId: image.configDigest,
    manifestDigest: image.manifest.digest,
    manifestSize: image.manifest.size,
    platform: final.plan.platform,
    tags,
    stats: env.tally.snapshot(),
  };
}

/**
 * Whatever phase the build ended in: the network, the runtime's mounts, the context, the temporary files, the store.
 */
async function release(held: Held): Promise<void> {
  // every container of the build is gone here; slirp4netns stops while the rest is cleaned up
  const networkClosed = held.network.close().catch(() => undefined);
  // RUN steps mount under the runtime's private run dir; drop it (and anything a killed run left) when idle.
  if (held.containersStarted()) await (await import('../runtime/index.js')).cleanupStaleMounts().catch(() => undefined);
  await held.context?.close().catch(() => undefined);
  await rm(held.tmpDir, { recursive: true, force: true }).catch(() => undefined);
  await held.pullsStored().catch(() => undefined);
  await held.store.close();
  await networkClosed;
}

async function openBuildStore(opts: BuildOptions, emit: (e: BuildEvent) => void): Promise<Store> {
  const { openStore } = await import('../store/index.js');
  const { registryBlobOpener } = await import('../registry-client/index.js');
  // Lazy blobs (a base image's layers, layers of registry cache hits) are fetched through the registry client,
  // loaded only if one is read.
  const remote = registryBlobOpener({ mirrors: opts.registryMirrors ?? [], insecure: opts.insecureRegistries ?? [] });
  return (await import('./remote-cache/hooks.js')).withRemoteCache(await openStore(opts.root, { remote }), opts, emit);
}

export { BuildError, PlanError };
