// The build-wide environment the stages share (steps/types.ts BuildEnv): base-image resolution, secrets, the
// network, the runtime's clean-up, and the stages' results, behind a read-only interface.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatPlatform, normalizeName, platformRank, TsbuildError, UsageError, type Platform } from '../oci/index.js';
import { openSnapshots, type ImageRecord, type Store } from '../store/index.js';
import type { BuildContext } from './context.js';
import type { ContextFetchers } from './named-contexts.js';
import { allowsNetworkHost } from './entitlements.js';
import type { BuildEvent } from './events.js';
import type { BuildOptions } from './options.js';
import type { BuildPlan } from './plan.js';
import { platformArg } from './platform.js';
import type { BuildEnv, StageState } from './steps/types.js';
import { BuildTally } from './tally.js';
import { baseIndexes } from './base-index.js';
import { NotCachedError } from './errors.js';
import { buildTimeWarning } from './checks.js';
import type { CheckConfig } from '../parser/index.js';

export type BaseImage = { record: ImageRecord; pulled: boolean };
export type BaseImageResolver = ((ref: string, platform: Platform) => Promise<BaseImage>) & {
  /** Settles when every pull this build started has written the store (its blobs, lazy records, manifest, tag). */
  stored(): Promise<void>;
};

/**
 * Resolves each base image once per build: from the store, or pulled (with --pull, always pulled). A pulled image is
 * returned as soon as its manifest and config are known: the store writes the rest meanwhile (stored()), which
 * anything that reads the image's layers, and the end of the build, waits for.
 */
export function baseImageResolver(opts: BuildOptions, store: Store, emit: (e: BuildEvent) => void): BaseImageResolver {
  const images = new Map<string, Promise<BaseImage>>();
  const writes: Promise<void>[] = [];
  // a name's other platforms, pulled by an earlier multi-platform build (the tag names only one of them)
  const indexes = baseIndexes(store);
  const resolve = (ref: string, platform: Platform): Promise<BaseImage> => {
    const name = normalizeName(ref);
    const key = `${name} ${platformArg(platform)}`;
    let p = images.get(key);
    if (!p) {
      p = (async () => {
        let rec: ImageRecord | undefined;
        if (!opts.pull) {
          rec = await store.images.resolve(name, platform);
          // A name pulled for one platform points at that platform's manifest; a build for another platform (even
          // one that could run it: arm64 runs arm/v7) asks the registry's index again rather than take that image.
          if (rec && platformRank(platform, platformOf(rec.config)) === 0) return { record: rec, pulled: false };
          // unless the index it came from (remembered by an earlier build) holds this platform's image too
          const sibling = rec && (await indexes.resolve(name, platform, rec.manifestDigest));
          if (sibling) return { record: sibling, pulled: false };
        }
        // a base not in the store: this build is not a cached one (and its pull belongs to the build that runs)
        if (opts.onlyIfCached && !opts.pull) throw new NotCachedError(`${name} is not in the store`);
        const { pullForBuild } = await import('./registry.js');
        try {
          const { record, stored, index } = await pullForBuild(store, name, platform, opts, emit, !opts.pull && !rec);
          writes.push(stored);
          // once stored, the index it came from is remembered for the name's other platforms
          writes.push(
            stored
              .then(async () => {
                const digest = await index;
                if (digest) await indexes.remember(name, digest);
              })
              .catch(() => undefined),
          );
          return { record, pulled: true };
        } catch (e) {
          // the registry out of reach: the stored image of the other platform is used, and said so
          if (!rec || (e instanceof TsbuildError && e.code === 'NO_PLATFORM')) throw e;
          emit({
            type: 'log',
            time: Date.now(),
            level: 'warn',
            message:
              `could not ask the registry for ${name} on ${formatPlatform(platform)} (${(e as Error).message}); ` +
              `using the stored ${name}, which is ${formatPlatform(platformOf(rec.config))}`,
          });
          return { record: rec, pulled: false };
        }
      })();
      images.set(key, p);
    }
    return p;
  };
  return Object.assign(resolve, { stored: async () => void (await Promise.all(writes)) });
}

function platformOf(config: { os: string; architecture: string; variant?: string | undefined }): Platform {
  return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
}

export async function makeEnv(
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
  checks: CheckConfig,
  /**
   * What the platforms of a multi-platform build share (one tally, one set of running steps, the first platform's
   * --ssh agents and --build-context trees) and the platform's label.
   */
  shared: {
    tally?: BuildTally;
    runningSteps?: BuildEnv['runningSteps'];
    platformLabel?: string;
    ssh?: BuildEnv['ssh'];
    named?: BuildEnv['named'];
  } = {},
): Promise<BuildEnv> {
  const copy = opts.snapshots === 'copy';
  if (opts.isolation === 'none' && !copy)
    throw new UsageError('isolation none needs copy snapshots: with overlay, RUN steps always switch root');
  if (copy && opts.isolation === 'pivot')
    throw new UsageError('isolation pivot needs a mount namespace, which copy snapshots do without: use chroot');
  const secrets = await readSecrets(opts);
  const ssh =
    'ssh' in shared
      ? shared.ssh
      : (opts.ssh ?? []).length > 0
        ? new (await import('./ssh.js')).SshAgents(opts.ssh ?? [], tmpDir)
        : undefined;
  const named =
    'named' in shared
      ? shared.named
      : (opts.buildContexts ?? []).length > 0
        ? await (async () => {
            const m = await import('./named-contexts.js');
            // `--build-context NAME=<git URL>`: fetched as a Git build context is (the store's Git cache, the
            // build's GIT_AUTH_* secrets, BUILDKIT_CONTEXT_KEEP_GIT_DIR), then read as a directory
            const git: ContextFetchers['git'] = async (url, tmp, signal) => {
              const { fetchGitContext } = await import('./sources/git-context.js');
              const got = await fetchGitContext(url, {
                store,
                tmpDir: tmp,
                buildArgs: opts.buildArgs,
                secrets,
                emit,
                ...(signal ? { signal } : {}),
              });
              return (await import('./context.js')).BuildContext.openDir(got.dir);
            };
            return new m.NamedContexts(opts.buildContexts ?? [], {
              store,
              tmpDir,
              resolveBaseImage,
              fetchers: { ...m.defaultFetchers, git },
              ...(opts.signal ? { signal: opts.signal } : {}),
            });
          })()
        : undefined;
  if (!('named' in shared)) await named?.check();
  let runtimeReady: Promise<void> | undefined;
  const tally = shared.tally ?? new BuildTally();
  return {
    store,
    plan,
    context,
    cachePolicy: {
      noCache: opts.noCache ?? false,
      noCacheStages: new Set((opts.noCacheFilter ?? []).map((s) => s.toLowerCase())),
    },
    emit,
    tally,
    check: (rule, message, line) => {
      const e = buildTimeWarning(checks, rule, message, plan.file, line);
      if (!e) return;
      tally.checkFired(rule);
      emit(e);
    },
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
    named,
    ssh,
    network: opts.network ?? 'default',
    allowNetworkHost: allowsNetworkHost(opts),
    sharedNetwork,
    isolation: opts.isolation ?? 'chroot',
    procShared: opts.procShared === true,
    onlyIfCached: opts.onlyIfCached === true,
    attestsSbom: opts.attest?.sbom !== undefined,
    implicitPlatform: opts.platform === undefined,
    ...(copy ? { snapshots: openSnapshots(store) } : {}),
    runtimeReady: () =>
      (runtimeReady ??= import('../runtime/index.js').then(({ cleanupStaleMounts }) => cleanupStaleMounts())),
    sourceDateEpoch: sde,
    now: () =>
      sde !== undefined ? new Date(sde * 1000).toISOString().replace('.000Z', 'Z') : new Date().toISOString(),
    signal: opts.signal,
    runningSteps: shared.runningSteps ?? new Map(),
    ...(shared.platformLabel !== undefined ? { platformLabel: shared.platformLabel } : {}),
  };
}

/** The `--secret` values by id (a file, an environment variable, or the variable named as the id). */
export async function readSecrets(opts: Pick<BuildOptions, 'secrets'>): Promise<Map<string, Buffer>> {
  const secrets = new Map<string, Buffer>();
  for (const s of opts.secrets ?? []) {
    if (s.src !== undefined) secrets.set(s.id, await readSecret(s.id, s.src));
    else if (s.env !== undefined && process.env[s.env] !== undefined)
      secrets.set(s.id, Buffer.from(process.env[s.env]!));
    else if (process.env[s.id] !== undefined) secrets.set(s.id, Buffer.from(process.env[s.id]!));
  }
  return secrets;
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
export function lazyNetwork(): { get(): Promise<{ fd: number }>; close(): Promise<void> } {
  let started: Promise<import('../runtime/index.js').Network> | undefined;
  return {
    get: () => (started ??= import('../runtime/index.js').then((m) => m.createNetwork())),
    close: async () => {
      const n = await started?.catch(() => undefined);
      await n?.close();
    },
  };
}
