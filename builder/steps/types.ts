// What every step sees: the build-wide environment (store, context, options, events) and its stage's state.
import type { Descriptor, Digest, HistoryEntry, ImageConfigFile, Platform } from '../../oci/index.js';
import type { TypedInstruction } from '../../parser/index.js';
import type { ImageRecord, Snapshots, Store } from '../../store/index.js';
import type { BuildContext } from '../context.js';
import type { BuildEvent, StepRef } from '../events.js';
import type { BuildPlan, StagePlan } from '../plan.js';
import type { CachePolicy } from '../cache.js';
import type { Vars } from '../expand.js';
import { envValue } from '../image-config.js';
import type { StepFacets } from '../reasons.js';
import type { BuildTally } from '../tally.js';
import type { BuildTimeRule } from '../checks.js';

export interface LayerRef {
  diffID: Digest;
  descriptor: Descriptor;
}

export interface StageState {
  plan: StagePlan;
  /** Working config; `rootfs`/`history` are rebuilt from `layers`/`history` at the end. */
  config: ImageConfigFile;
  layers: LayerRef[];
  /** Unpacked directories of `layers`, filled lazily (same order). */
  lowerdirs: (string | undefined)[];
  history: HistoryEntry[];
  /** ARGs declared in this stage: name → value (undefined: declared without a value). */
  args: Map<string, string | undefined>;
  /** CMD set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** Cache chain: the key of the last step. */
  key: string;
  /** A step missed the cache (or the cache is off for this stage): later steps run without lookups. */
  missed: boolean;
  /** --no-cache, or --no-cache-filter names this stage. */
  noCache: boolean;
  /** Latest `created` among this stage's steps. */
  created: string;
  /** Inputs of each step so far (index = step number), to explain misses next time. */
  facets: StepFacets[];
  /** The base as resolved (image config digest or stage), for `base image changed`. */
  baseId: string;
  /** The last build's inputs of this stage, loaded on the first miss. */
  lastInputs?: Promise<StepFacets[] | undefined>;
  /** The stage's platform when it is not the plan's: taken from its single-platform base (BuildKit's autodetect). */
  platform?: Platform;
}

/**
 * The build-wide environment every step of every stage sees. Stages run side by side, so it is read-only: what
 * they record goes through `tally`, and another stage's result is awaited through `stage()`.
 */
export interface BuildEnv {
  readonly store: Store;
  readonly plan: BuildPlan;
  readonly context: BuildContext;
  readonly cachePolicy: CachePolicy;
  emit(e: BuildEvent): void;
  readonly tally: BuildTally;
  /** A build check that fired while a stage ran (skipped as the check options say; error=true fails the build). */
  check(rule: BuildTimeRule, message: string, line: number): void;
  /** Temporary directory for views and downloads, on the store's filesystem. */
  readonly tmpDir: string;
  /** Persistent directory for `RUN --mount=type=cache`. */
  readonly cacheMountDir: string;
  /** The state of stage `index` once it has run (it must be one this stage depends on, or the target). */
  stage(index: number): Promise<StageState>;
  /** Resolves (pulling when needed) an image for COPY --from / RUN --mount from=. */
  resolveImage(ref: string): Promise<ImageRecord>;
  /** Resolves a stage's base image for a platform; `pulled` when it came from a registry in this build. */
  resolveBaseImage(ref: string, platform: Platform): Promise<{ record: ImageRecord; pulled: boolean }>;
  /** Settles when the base images pulled so far are in the store (a step that reads their layers waits for it). */
  baseImagesStored(): Promise<void>;
  readonly secrets: ReadonlyMap<string, Buffer>;
  /** `--build-context` named contexts (undefined when none was given). */
  readonly named: import('../named-contexts.js').NamedContexts | undefined;
  /** `--ssh` agents for RUN --mount=type=ssh (undefined when none was given). */
  readonly ssh: import('../ssh.js').SshAgents | undefined;
  /** The build's network for RUN (`--network`); `RUN --network=` overrides it per step. */
  readonly network: 'default' | 'host' | 'none';
  /** `--allow network.host` (or a build on the host's network): `RUN --network=host` is allowed. */
  readonly allowNetworkHost: boolean;
  /** The build's default network, started by the first RUN that needs it and stopped when the build ends. */
  sharedNetwork(): Promise<{ fd: number }>;
  readonly isolation: 'chroot' | 'pivot' | 'none';
  /** RUN shares this process's /proc (BuildOptions.procShared). */
  readonly procShared: boolean;
  /** BuildOptions.onlyIfCached: what a step would run or read throws a NotCachedError instead. */
  readonly onlyIfCached: boolean;
  /** The build attests an SBOM of its image: the image's scan starts while its last layer commits. */
  readonly attestsSbom: boolean;
  /**
   * No --platform was given: a stage whose FROM names no platform takes its base image's platform when that is
   * another one (BuildKit's autoDetectPlatform for an implicit target), not labelling its binaries as the host's.
   */
  readonly implicitPlatform: boolean;
  /**
   * Copy snapshots (BuildOptions.snapshots `copy`): the store's plain-directory snapshots, which views and RUN use
   * instead of overlay mounts. Undefined with overlay (the default).
   */
  readonly snapshots?: Snapshots;
  /** The runtime's clean-up of what crashed runs left: started by the first RUN of the build, once. */
  runtimeReady(): Promise<void>;
  readonly sourceDateEpoch: number | undefined;
  /** ISO time for a step that runs now (SOURCE_DATE_EPOCH when set). */
  now(): string;
  readonly signal: AbortSignal | undefined;
  /** Multi-platform builds: the target platform of this env's plan (`linux/arm64`), shown with each step. */
  readonly platformLabel?: string;
  /**
   * Steps being run in this build, by cache key, shared by the platforms of a multi-platform build: a step whose key
   * another platform is running (a stage that does not depend on the target platform) waits for that run and takes
   * its result, so it runs once.
   */
  readonly runningSteps: Map<string, Promise<SharedStep>>;
}

/** What a step that ran gives another platform's identical step. */
export interface SharedStep {
  layer: LayerRef | null;
  created: string;
}

/** A step's inputs; `I` narrows the instruction for the step that handles its kind. */
export interface StepCtx<I extends TypedInstruction = TypedInstruction> {
  env: BuildEnv;
  state: StageState;
  ins: I;
  step: StepRef;
}

/** Variables visible to substitution: the stage's ARGs, then ENV (ENV wins over an ARG of the same name). */
/**
 * The variables words of the next instruction expand with: the stage's ENV over its ARGs. A view, not a copy (a
 * stage may have a million ENV entries); `set` adds variables for the rest of one instruction (ARG a=1 b=$a).
 */
export class StageVars implements Vars {
  private readonly local = new Map<string, string>();
  constructor(private readonly state: StageState) {}
  get(name: string): string | undefined {
    return this.local.get(name) ?? envValue(this.state.config.config.Env, name) ?? this.state.args.get(name);
  }
  set(name: string, value: string): this {
    this.local.set(name, value);
    return this;
  }
}

export function stageVars(state: StageState): StageVars {
  return new StageVars(state);
}
