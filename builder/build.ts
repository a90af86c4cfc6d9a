// Orchestration: read and plan the Buildfile, open the store and context, run the needed stages (independent
// ones in parallel through a p-queue), then assemble the image, tag it and write the requested outputs.
// Modules that a fully cached rebuild does not need (runtime, registry client, exporters) load lazily.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
import { isHttpContext } from './context-url.js';
import { checkEntitlements } from './entitlements.js';
import { BuildError, PlanError } from './errors.js';
import type { BuildEvent } from './events.js';
import type { BuildOptions, BuildResult } from './options.js';
import { sourceDateEpoch } from './epoch.js';
import { makePlan, unusedBuildArgs, type BuildPlan } from './plan.js';
import { planOutputs, pushCompression, type OutputPlan } from './output-plan.js';
import { syntaxWarning } from './syntax.js';
import { formatPlatform, hostPlatform, parsePlatformList } from '../oci/index.js';
import { availableParallelism } from 'node:os';
import { platformArg } from './platform.js';
import { BuildTally } from './tally.js';
import { runStage } from './stage.js';
import type { BuildEnv, SharedStep, StageState } from './steps/types.js';
import { assemble } from './assemble.js';
import { parseAnnotations } from './annotations.js';
import { readAndParse } from './buildfile.js';
import { checkEmulation } from './emulation.js';
import { baseImageResolver, lazyNetwork, makeEnv, readSecrets, type BaseImageResolver } from './env.js';
import { isGitContext } from './sources/git.js';
import type { VcsInfo } from './sources/git-context.js';

/**
 * The phases, in order: plan (read, parse, plan, check entitlements), start the base-image pulls, open the context,
 * run the stages, then finish the image (assemble, export cache, outputs, tags). Some overlap on purpose: the store
 * opens while a directory context's Buildfile is parsed, and base images resolve while the context is read.
 */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const startedOn = new Date();
  checkArguments(opts);
  const targets = targetPlatforms(opts);
  const emit = (e: BuildEvent): void => opts.onEvent?.(e);
  // names, pushes and outputs that contradict each other fail before anything runs
  const outputs = planOutputs(opts);
  if (targets.length > 1) {
    refuseMultiPlatformOutputs(outputs);
    refuseMultiPlatformAttestations(opts);
  }
  // a malformed --build-arg SOURCE_DATE_EPOCH fails before anything starts
  const epoch =
    opts.sourceDateEpoch !== undefined ? { epoch: opts.sourceDateEpoch } : sourceDateEpoch(opts.buildArgs, process.env);
  // The store opens (loading its modules, and starting a --cache-from import) while the Buildfile of a directory
  // context is read and parsed; a tar context is unpacked into the store first (its Buildfile may be inside).
  // A Git context is fetched first, as a tar context is unpacked: its Buildfile is inside.
  const gitUrl = typeof opts.context === 'string' && isGitContext(opts.context) ? opts.context : undefined;
  const early = localDir(opts.context) ? readAndParse(opts, undefined) : undefined;
  early?.catch(() => undefined);
  // the provenance and the OCI annotations name the context's git remote and commit: git is asked now, beside the
  // steps, not after them (git-source.ts keeps the answer for this build)
  if (localDir(opts.context) && (opts.attest || (opts.annotations?.length ?? 0) > 0))
    void import('./git-source.js').then((g) => g.contextSource(opts).catch(() => undefined));
  const store = await openBuildStore(opts, emit);
  const runId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpDir = join(store.root, 'builder', 'tmp', runId);
  // a build's checkouts, downloads and views in a block group of their own (the store's markTopDir says why): the
  // parent is marked before the build's directory is made in it
  await mkdir(dirname(tmpDir), { recursive: true });
  (await import('../store/index.js')).markTopDir(dirname(tmpDir));
  await mkdir(tmpDir);
  const held: Held = {
    store,
    tmpDir,
    network: lazyNetwork(),
    context: undefined,
    containersStarted: () => false,
    pullsStored: async () => undefined,
  };
  try {
    // A tar or HTTP(S) context is unpacked first: its Buildfile may be inside it.
    if (typeof opts.context !== 'string') held.context = await BuildContext.openTar(opts.context.tar, tmpDir);
    else if (isHttpContext(opts.context))
      held.context = await (
        await import('./remote-context.js')
      ).openHttpContext(opts.context, tmpDir, {
        ...(opts.remoteContextMaxBytes !== undefined ? { maxBytes: opts.remoteContextMaxBytes } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    let git: { dir: string; vcs: VcsInfo } | undefined;
    if (gitUrl) {
      const { fetchGitContext } = await import('./sources/git-context.js');
      git = await fetchGitContext(gitUrl, {
        store,
        tmpDir,
        buildArgs: opts.buildArgs,
        secrets: await readSecrets(opts),
        emit,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    }
    const { plans, buildfilePath, checks } = await planBuild(
      opts,
      early ?? readAndParse(opts, held.context?.root ?? git?.dir, git ? gitUrl : undefined),
      emit,
      targets,
    );
    const plan = plans[0]!;
    // a multi-platform build names each platform's stages and steps with the platform, as BuildKit's progress does
    const labels = plans.map((p) => (plans.length > 1 ? platformArg(p.targetPlatform) : undefined));
    const named = (label: string | undefined, name: string): string =>
      label !== undefined ? `${label} ${name}` : name;
    emit({
      type: 'build-start',
      time: Date.now(),
      stages: plans.flatMap((p, n) =>
        p.needed.map((i) => ({
          name: named(labels[n], p.stages[i]!.displayName),
          dependsOn: p.stages[i]!.dependsOn.map((d) => named(labels[n], p.stages[d]!.displayName)),
        })),
      ),
    });
    if (checks.notice) emit({ type: 'log', time: Date.now(), level: 'warn', message: checks.notice });
    for (const w of checks.warnings) emit(warningEvent(w, plan.file));
    if (checks.failure) throw checks.failure;
    // a foreign platform this host cannot run fails here, before a pull or a step, not at its first RUN
    for (const p of plans) checkEmulation(p);
    const resolveBaseImage = startBaseImages(opts, store, plans, emit);
    held.pullsStored = resolveBaseImage.stored;
    if (localDir(opts.context) || git) {
      held.context = await BuildContext.openDir(git?.dir ?? (opts.context as string), {
        ...(buildfilePath ? { buildfile: buildfilePath } : {}),
        memoDir: join(store.root, 'builder'),
        // a Git checkout in the store's cache is never written again: COPY may hard-link it into layers
        ...(git ? { immutable: true } : {}),
      });
    }
    if (!held.context) throw new PlanError('no build context', plan.file);

    if (epoch.warning) emit({ type: 'log', time: Date.now(), level: 'warn', message: epoch.warning });
    // aborted by the caller (Ctrl-C) or by the first stage that fails: the stages beside it stop
    const cancel = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, cancel.signal]) : cancel.signal;
    // the platforms share one tally and one set of running steps (a stage independent of the platform runs once)
    const shared = { tally: new BuildTally(), runningSteps: new Map<string, Promise<SharedStep>>() };
    const runs: PlatformRun[] = [];
    for (const [n, p] of plans.entries()) {
      const stages = new Map<number, Promise<StageState>>();
      const label = labels[n];
      const env = await makeEnv(
        { ...opts, signal },
        store,
        p,
        held.context,
        tmpDir,
        emit,
        resolveBaseImage,
        held.network.get,
        stages,
        epoch.epoch,
        checks.config,
        {
          ...shared,
          ...(label !== undefined ? { platformLabel: label } : {}),
          // one --ssh agent and one set of --build-context trees for every platform
          ...(runs[0] ? { ssh: runs[0].env.ssh, named: runs[0].env.named } : {}),
        },
      );
      runs.push({ env, stages });
    }
    held.containersStarted = () => shared.tally.containersStarted;
    held.ssh = runs[0]!.env.ssh;
    held.named = runs[0]!.env.named;
    const finals = await runStages(runs, opts, cancel);
    // the layers the steps committed are durable and in place before an image names them
    await store.blobs.allPlaced();
    // a check that fired while the stages ran (InvalidBaseImagePlatform) fails an error=true build, as BuildKit's
    if (checks.config.error && shared.tally.checksFired.size > 0)
      throw new CheckFailedError([...shared.tally.checksFired]);
    for (const a of unusedBuildArgs(plan, shared.tally.usedArgs)) {
      emit({ type: 'log', time: Date.now(), level: 'warn', message: `build arg ${a} was not consumed by any stage` });
    }
    const result =
      runs.length > 1
        ? await (
            await import('./multi-platform.js')
          ).finishIndex(
            runs.map((r, n) => ({ env: r.env, final: finals[n]! })),
            opts,
            resolveBaseImage,
            outputs,
            git?.vcs,
            startedOn,
          )
        : await finishImage(runs[0]!.env, finals[0]!, opts, resolveBaseImage, outputs, startedOn, git?.vcs);
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
  if (opts.annotations?.length) {
    // malformed or unplaceable annotations fail before anything runs
    const a = parseAnnotations(opts.annotations, hostPlatform());
    if (!opts.attest && Object.keys(a.index).length + Object.keys(a.manifestDescriptor).length > 0)
      throw new UsageError('--annotation index: and manifest-descriptor: need an image index', {
        hint: 'a single-platform build makes an index only with attestations (--sbom, --provenance); use manifest: annotations, or ask for an attestation',
      });
  }
  if (localDir(opts.context)) {
    const st = statSync(opts.context, { throwIfNoEntry: false });
    if (st === undefined)
      throw new UsageError(`context directory "${opts.context}" does not exist`, {
        hint: 'give the directory to build from (. for the current one)',
      });
    if (!st.isDirectory()) throw new UsageError(`context "${opts.context}" is not a directory`);
  }
}

/** A context given as a directory path (not a tar stream, not a URL, not a Git repository). */
function localDir(context: BuildOptions['context']): context is string {
  return typeof context === 'string' && !isHttpContext(context) && !isGitContext(context);
}

/** What a build holds open until it ends, whatever phase it ended in. */
interface Held {
  store: Store;
  tmpDir: string;
  network: ReturnType<typeof lazyNetwork>;
  context: BuildContext | undefined;
  /** `--ssh` agents this build started (stopped at the end). */
  ssh?: { close(): Promise<void> } | undefined;
  /** `--build-context` trees fetched (closed at the end). */
  named?: { close(): Promise<void> } | undefined;
  containersStarted(): boolean;
  /** Settles when the pulls started so far have written the store. */
  pullsStored(): Promise<void>;
}

/** Phase 1: the parsed Buildfile as a plan for the target platform, its entitlements checked. */
async function planBuild(
  opts: BuildOptions,
  parse: ReturnType<typeof readAndParse>,
  emit: (e: BuildEvent) => void,
  targets: Platform[],
): Promise<{ plans: BuildPlan[]; buildfilePath?: string; checks: PlannedChecks }> {
  const { buildfilePath, parsed } = await parse;
  const syntax = syntaxWarning(parsed.directives.syntax);
  if (syntax) emit({ type: 'log', time: Date.now(), level: 'warn', message: syntax });
  const buildPlatform = hostPlatform();
  // one plan per target platform: the predefined TARGET* args, and the stages a FROM --platform does not pin
  const plans = targets.map((targetPlatform) =>
    makePlan({
      parsed,
      buildArgs: opts.buildArgs ?? {},
      ...(opts.target !== undefined ? { target: opts.target } : {}),
      buildPlatform,
      targetPlatform,
      ...((opts.buildContexts ?? []).length > 0
        ? { namedContexts: new Set(opts.buildContexts!.map((c) => c.name)) }
        : {}),
    }),
  );
  for (const plan of plans) checkEntitlements(plan, opts);
  // the build checks see the stages the build reaches, as BuildKit's do while it dispatches them
  const config = checkConfig(parsed, opts.buildArgs ?? {});
  const warnings = checkBuildfile(parsed, config, new Set(plans.flatMap((p) => p.needed)));
  const failure = checkFailure(config, warnings);
  const notice = experimentalNotice(config);
  return {
    plans,
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
  plans: BuildPlan[],
  emit: (e: BuildEvent) => void,
): BaseImageResolver {
  const resolveBaseImage = baseImageResolver(opts, store, emit);
  for (const plan of plans) {
    for (const i of plan.needed) {
      const base = plan.stages[i]!.base;
      // the stage that needs it awaits it again and sees the failure then
      if (base.kind === 'image') resolveBaseImage(base.ref, plan.stages[i]!.platform).catch(() => undefined);
    }
  }
  return resolveBaseImage;
}

/** One target platform's part of the build: its env (plan, label) and its stages' results. */
interface PlatformRun {
  env: BuildEnv;
  stages: Map<number, Promise<StageState>>;
}

/** `--platform p1,p2,…` (default: the host's), each parsed; a malformed one is the caller's error (exit 2). */
function targetPlatforms(opts: BuildOptions): Platform[] {
  if (!opts.platform) return [hostPlatform()];
  let targets: Platform[];
  try {
    targets = parsePlatformList(opts.platform);
  } catch (e) {
    // the caller's option, not the Buildfile's
    throw new UsageError(`platform: ${(e as Error).message}`);
  }
  // RUN, users, paths and layers are Linux's here: another OS's image would be mislabelled, not built
  const other = targets.find((t) => t.os !== 'linux');
  if (other)
    throw new UsageError(`platform: tsbuild builds Linux images, not ${formatPlatform(other)}`, {
      hint: 'give a linux/… platform (linux/amd64, linux/arm64, linux/arm/v7…)',
    });
  return targets;
}

/**
 * Outputs that cannot hold several platforms fail before anything runs, as BuildKit's do: a rootfs tar holds one
 * filesystem. (A docker-archive holds the index as Docker 25's `docker save` does: store/ops/save.ts.)
 */
function refuseMultiPlatformOutputs(outputs: OutputPlan): void {
  for (const o of outputs.files) {
    if (o.type === 'tar')
      throw new UsageError('-o type=tar holds one filesystem: it cannot hold several platforms', {
        hint: 'use -o type=local,dest=DIR (one directory per platform) or build one --platform',
      });
  }
}

/**
 * Annotations and OCI referrers are placed for a single-platform build only, so far (builder/attest.ts); on a
 * multi-platform index they would be missing, so asking for them is refused rather than ignored.
 */
function refuseMultiPlatformAttestations(opts: BuildOptions): void {
  const asked = opts.attest?.referrers
    ? '--attest …,referrers=true'
    : opts.annotations?.length
      ? '--annotation'
      : undefined;
  if (asked)
    throw new UsageError(`${asked} is not supported with several platforms yet`, {
      hint: 'build each --platform on its own for annotations or referrers (attestations in the index work)',
    });
}

/**
 * Phase 3: every needed stage runs as soon as the stages it depends on are done, at most `concurrency` at once.
 * Returns the target's state once every needed stage has finished. The first stage to fail fails the build at once,
 * as BuildKit's does: the queued stages are dropped, the running ones are cancelled (their containers killed, their
 * mounts released), and once they have settled the first error is thrown.
 */
async function runStages(runs: PlatformRun[], opts: BuildOptions, cancel: AbortController): Promise<StageState[]> {
  let firstError: { error: unknown } | undefined;
  const count = runs.reduce((n, r) => n + r.env.plan.needed.length, 0);
  // One queue for every platform's stages: a multi-platform build runs them side by side, at most one per core by
  // default. One stage needs no queue (and a no-op rebuild of it does not load p-queue).
  const concurrency = Math.max(1, opts.concurrency ?? (runs.length > 1 ? Math.max(2, availableParallelism()) : 2));
  const queue: Pick<PQueue, 'add' | 'clear'> =
    count > 1
      ? new (await import('p-queue')).default({ concurrency })
      : { add: ((fn: () => Promise<unknown>) => fn()) as PQueue['add'], clear: () => undefined };
  for (const { env, stages } of runs) {
    for (const i of env.plan.needed) {
      const sp = env.plan.stages[i]!;
      const p = (async () => {
        await Promise.all(sp.dependsOn.map((d) => env.stage(d)));
        return (await queue.add(() => runStage(env, sp), { throwOnTimeout: true })) as StageState;
      })();
      // awaited below and by the stages that depend on it; until then a failure must not be an unhandled
      // rejection. The first failure is the build's error; the cancelled stages' own errors ("killed") come after.
      p.catch((error: unknown) => {
        firstError ??= { error };
        cancel.abort();
      });
      stages.set(i, p);
    }
  }
  try {
    await Promise.all(runs.flatMap(({ env }) => env.plan.needed.map((i) => env.stage(i))));
    return await Promise.all(runs.map(({ env }) => env.stage(env.plan.target)));
  } catch (e) {
    queue.clear();
    cancel.abort();
    await Promise.allSettled(runs.flatMap((r) => [...r.stages.values()]));
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
  startedOn: Date,
  vcs: VcsInfo | undefined,
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
  // annotations (and the standard ones beside them) when --annotation or an attestation asks for them
  const notes =
    (opts.annotations?.length ?? 0) > 0 || opts.attest
      ? await (await import('./image-annotations.js')).imageAnnotations(env, final, opts, vcs)
      : undefined;
  const image = await assemble(env, final, opts, notes?.manifest);
  await basesStored;
  await hitsRecorded;
  await hooks.exportBuildCache(store, opts, image, emit);
  // asked-for attestations make the result an index of the image and its attestation manifest (builder/attest.ts)
  const attested = opts.attest
    ? await (
        await import('./attest.js')
      ).attest(env, final, image, opts, opts.attest, {
        startedOn,
        names: [...new Set([...outputs.pushNames, ...outputs.storeNames])],
        toolVersion: opts.toolVersion ?? 'dev',
        ...(vcs ? { vcs } : {}),
        ...(notes ? { annotations: notes.parsed } : {}),
        ...pushCompression(opts),
        ...(outputs.pushNames.length === 0 ? { storeOnly: true } : {}),
      })
    : undefined;
  const { writeOutputs } = await import('./outputs.js');
  const pushed = await writeOutputs(
    env,
    image,
    opts,
    outputs,
    attested?.index,
    attested?.referrers ? { manifests: attested.referrers, subject: attested.image } : undefined,
    vcs,
  );
  const tags = outputs.storeNames;
  for (const t of tags) await store.images.tag(t, attested?.index ?? image.manifest);
  return {
    ...(attested ? { index: attested.index } : {}),
    ...(pushed ? { pushed } : {}),
    imageId: image.configDigest,
    manifestDigest: image.manifest.digest,
    manifestSize: image.manifest.size,
    platform: image.platform,
    tags,
    stats: env.tally.snapshot(),
  };
}

/** The image output's compression keys (`-o type=image|registry,compression=…`): the push sends layers so. */
/**
 * Whatever phase the build ended in: the network, the runtime's mounts, the context, the temporary files, the store.
 */
async function release(held: Held): Promise<void> {
  // every container of the build is gone here; slirp4netns stops while the rest is cleaned up
  const networkClosed = held.network.close().catch(() => undefined);
  // RUN steps mount under the runtime's private run dir; drop it (and anything a killed run left) when idle.
  if (held.containersStarted()) await (await import('../runtime/index.js')).cleanupStaleMounts().catch(() => undefined);
  await held.context?.close().catch(() => undefined);
  await held.ssh?.close().catch(() => undefined);
  await held.named?.close().catch(() => undefined);
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
