// Orchestration: read and plan the Buildfile, open the store and context, run the needed stages (independent
// ones in parallel through a p-queue), then assemble the image, tag it and write the requested outputs.
// Modules that a fully cached rebuild does not need (runtime, registry client, exporters) load lazily.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import type PQueue from 'p-queue';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ParseResult } from '../parser/index.js';
import { normalizeName, UsageError } from '../oci/index.js';
import type { Descriptor, Digest, ImageConfigFile, Platform } from '../oci/index.js';
import type { ImageRecord, Store } from '../store/index.js';
import { checkBuildfile, checkConfig, checkFailure, experimentalNotice, warningEvent } from './checks.js';
import { BuildContext } from './context.js';
import { allowsNetworkHost, checkEntitlements } from './entitlements.js';
import { BuildError, PlanError } from './errors.js';
import type { BuildEvent } from './events.js';
import { finalConfig, makeManifest } from './image-config.js';
import type { BuildOptions, BuildResult } from './options.js';
import { sourceDateEpoch } from './epoch.js';
import { makePlan, unusedBuildArgs, type BuildPlan } from './plan.js';
import { planOutputs, type OutputPlan } from './output-plan.js';
import { syntaxWarning } from './syntax.js';
import { hostPlatform, parsePlatform } from '../oci/index.js';
import { platformArg } from './platform.js';
import { runStage } from './stage.js';
import { BuildTally } from './tally.js';
import type { BuildEnv, StageState } from './steps/types.js';

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
    );
    held.containersStarted = () => env.tally.containersStarted;
    const final = await runStages(env, stages, opts, cancel);
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
    checks: { warnings, ...(failure ? { failure } : {}), ...(notice ? { notice } : {}) },
  };
}

interface PlannedChecks {
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

async function readAndParse(
  opts: BuildOptions,
  tarRoot: string | undefined,
): Promise<{ file: string; buildfilePath?: string; parsed: ParseResult }> {
  const { text, file, buildfilePath } = await readBuildfile(opts, tarRoot);
  // Kept outside the store: parsing is a pure function of the text, and a fresh store (a cold build) can reuse it.
  const parsed = await parseCached(text, file, join(tmpdir(), `tsbuild-parse-cache-${process.getuid?.() ?? 0}`));
  return { file, ...(buildfilePath ? { buildfilePath } : {}), parsed };
}

/**
 * Parses the Buildfile, or reads the parse of the same text from a machine-local cache (keyed by the text, the file
 * name and the parser build), so a no-op rebuild does not load the parser. The parser build is an id the build
 * script writes beside tsc's parser output (scripts/bundle.mjs); without one (the TypeScript sources) nothing is
 * cached, since a parse could not be told from another parser's.
 */
async function parseCached(text: string, file: string, dir: string): Promise<ParseResult> {
  const parse = async (): Promise<ParseResult> =>
    (await (await import('../parser/index.js')).loadParser()).parseBuildfile(text, file);
  // Synchronous: a few tiny calls at the start of every build, each cheaper than a trip through the thread pool.
  let parserBuild: string;
  try {
    parserBuild = readFileSync(fileURLToPath(new URL('../parser/build-id', import.meta.url)), 'utf8');
  } catch {
    return parse();
  }
  const key = createHash('sha256').update(`${parserBuild}\0${file}\0${text}`).digest('hex');
  const path = join(dir, `${key}.json`);
  // The directory must be ours and private (it lives in a shared tmp): otherwise parse without the cache.
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    /* checked below */
  }
  const dst = statSync(dir, { throwIfNoEntry: false });
  const own =
    dst !== undefined && dst.isDirectory() && dst.uid === (process.getuid?.() ?? dst.uid) && (dst.mode & 0o077) === 0;
  if (own) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as ParseResult;
    } catch {
      /* not cached yet */
    }
  }
  const parsed = await parse();
  if (!own) return parsed;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(parsed));
  await rename(tmp, path);
  return parsed;
}

export async function readBuildfile(
  opts: BuildOptions,
  tarRoot: string | undefined,
): Promise<{ text: string; file: string; buildfilePath?: string }> {
  if (opts.fileText !== undefined) return { text: opts.fileText, file: opts.file ?? 'Buildfile' };
  let path = opts.file;
  // With a tar context, -f names a file inside it (as docker build does).
  if (path !== undefined && tarRoot !== undefined && !path.startsWith('/')) path = join(tarRoot, path);
  if (path === undefined) {
    const dir = tarRoot ?? (opts.context as string);
    const candidates = ['Buildfile', 'Dockerfile'].map((n) => join(dir, n));
    for (const c of candidates) {
      if (statSync(c, { throwIfNoEntry: false })?.isFile()) {
        path = c;
        break;
      }
    }
    if (path === undefined)
      throw new PlanError(
        `no Buildfile (or Dockerfile) in ${tarRoot ? 'the context from stdin' : dir}; use -f`,
        tarRoot ? '-' : dir,
      );
  }
  try {
    return { text: readFileSync(path, 'utf8'), file: path, buildfilePath: resolve(path) };
  } catch (e) {
    throw new PlanError(`cannot read the Buildfile: ${(e as Error).message}`, path);
  }
}

type BaseImage = { record: ImageRecord; pulled: boolean };
type BaseImageResolver = ((ref: string, platform: Platform) => Promise<BaseImage>) & {
  /** Settles when every pull this build started has written the store (its blobs, lazy records, manifest, tag). */
  stored(): Promise<void>;
};

/**
 * Resolves each base image once per build: from the store, or pulled (with --pull, always pulled). A pulled image is
 * returned as soon as its manifest and config are known: the store writes the rest meanwhile (stored()), which
 * anything that reads the image's layers, and the end of the build, waits for.
 */
function baseImageResolver(opts: BuildOptions, store: Store, emit: (e: BuildEvent) => void): BaseImageResolver {
  const images = new Map<string, Promise<BaseImage>>();
  const writes: Promise<void>[] = [];
  const resolve = (ref: string, platform: Platform): Promise<BaseImage> => {
    const name = normalizeName(ref);
    const key = `${name} ${platformArg(platform)}`;
    let p = images.get(key);
    if (!p) {
      p = (async () => {
        if (!opts.pull) {
          const rec = await store.images.resolve(name, platform);
          if (rec) return { record: rec, pulled: false };
        }
        const { pullForBuild } = await import('./registry.js');
        const { record, stored } = await pullForBuild(store, name, platform, opts, emit, !opts.pull);
        writes.push(stored);
        return { record, pulled: true };
      })();
      images.set(key, p);
    }
    return p;
  };
  return Object.assign(resolve, { stored: async () => void (await Promise.all(writes)) });
}

async function makeEnv(
  opts: BuildOptions,
  store: Store,
  plan: BuildPlan,
  context: BuildContext,
  tmpDir: string,
  emit: (e: BuildEvent) => void,
  resolveBaseImage: BaseImageResolver,
  sharedNetwork: () => Promise<{ fd: number }>,
  stages: ReadonlyMap<number, Promise<StageState>>,
  /** SOURCE_DATE_EPOCH (builder/epoch.ts), or undefined. */
  sde: number | undefined,
): Promise<BuildEnv> {
  const secrets = new Map<string, Buffer>();
  for (const s of opts.secrets ?? []) {
    if (s.src !== undefined) secrets.set(s.id, await readSecret(s.id, s.src));
    else if (s.env !== undefined && process.env[s.env] !== undefined)
      secrets.set(s.id, Buffer.from(process.env[s.env]!));
    else if (process.env[s.id] !== undefined) secrets.set(s.id, Buffer.from(process.env[s.id]!));
  }
  let runtimeReady: Promise<void> | undefined;
  return {
    store,
    plan,
    context,
    cachePolicy: {
      noCache: opts.noCache ?? false,
      noCacheStages: new Set((opts.noCacheFilter ?? []).map((s) => s.toLowerCase())),
    },
    emit,
    tally: new BuildTally(),
    tmpDir,
    cacheMountDir: join(store.root, 'builder', 'cache-mounts'),
    stage: (index) => {
      const p = stages.get(index);
      // a stage reads only stages the plan made it depend on, and those were registered before it was
      if (!p) throw new Error(`internal: stage ${index} awaited before it was planned`);
      return p;
    },
    resolveImage: async (ref) => {
      const { record } = await resolveBaseImage(ref, plan.targetPlatform);
      await resolveBaseImage.stored();
      return record;
    },
    resolveBaseImage,
    baseImagesStored: () => resolveBaseImage.stored(),
    secrets,
    network: opts.network ?? 'default',
    allowNetworkHost: allowsNetworkHost(opts),
    sharedNetwork,
    isolation: opts.isolation ?? 'chroot',
    runtimeReady: () =>
      (runtimeReady ??= import('../runtime/index.js').then(({ cleanupStaleMounts }) => cleanupStaleMounts())),
    sourceDateEpoch: sde,
    now: () =>
      sde !== undefined ? new Date(sde * 1000).toISOString().replace('.000Z', 'Z') : new Date().toISOString(),
    signal: opts.signal,
  };
}

/** A `--secret id=ID,src=FILE` file; one that cannot be read is named with its id (exit 2). */
async function readSecret(id: string, src: string): Promise<Buffer> {
  try {
    return await readFile(src);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new UsageError(`secret "${id}": cannot read src ${src}: ${why}`, { cause: e });
  }
}

/** The build's default network: started by the first RUN that needs it, so a cached build starts none. */
function lazyNetwork(): { get(): Promise<{ fd: number }>; close(): Promise<void> } {
  let started: Promise<import('../runtime/index.js').Network> | undefined;
  return {
    get: () => (started ??= import('../runtime/index.js').then((m) => m.createNetwork())),
    close: async () => {
      const n = await started?.catch(() => undefined);
      await n?.close();
    },
  };
}

export interface AssembledImage {
  config: ImageConfigFile;
  configDigest: Digest;
  manifest: Descriptor;
  layers: Descriptor[];
  platform: Platform;
}

/** Writes the final config and manifest blobs (small JSON; a no-change rebuild writes the same bytes). */
async function assemble(env: BuildEnv, st: StageState, opts: BuildOptions): Promise<AssembledImage> {
  const cfg = st.config;
  if (opts.labels && Object.keys(opts.labels).length > 0)
    cfg.config.Labels = { ...(cfg.config.Labels ?? {}), ...opts.labels };
  const p = st.plan.platform;
  cfg.architecture = p.architecture;
  cfg.os = p.os;
  if (p.variant) cfg.variant = p.variant;
  else delete cfg.variant;
  cfg.history = st.history;
  const created = env.sourceDateEpoch !== undefined ? env.now() : st.created || cfg.created || env.now();
  const config = finalConfig(
    cfg,
    created,
    st.layers.map((l) => l.diffID),
  );
  const { MediaType } = await import('../oci/index.js');
  const { putJSON } = await import('../store/index.js');
  const configDesc = await putJSON(env.store.blobs, config, MediaType.OciConfig);
  const layers = st.layers.map((l) => l.descriptor);
  const manifest = makeManifest(configDesc, layers);
  const manifestDesc = await putJSON(env.store.blobs, manifest, MediaType.OciManifest);
  return {
    config,
    configDigest: configDesc.digest,
    manifest: { ...manifestDesc, mediaType: MediaType.OciManifest },
    layers,
    platform: p,
  };
}

export { BuildError, PlanError };
