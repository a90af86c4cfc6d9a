// The build-wide environment the stages share (steps/types.ts BuildEnv): base-image resolution, secrets, the
// network, the runtime's clean-up, and the stages' results, behind a read-only interface.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normalizeName, UsageError, type Platform } from '../oci/index.js';
import type { ImageRecord, Store } from '../store/index.js';
import type { BuildContext } from './context.js';
import { allowsNetworkHost } from './entitlements.js';
import type { BuildEvent } from './events.js';
import type { BuildOptions } from './options.js';
import type { BuildPlan } from './plan.js';
import { platformArg } from './platform.js';
import type { BuildEnv, StageState } from './steps/types.js';
import { BuildTally } from './tally.js';
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
): Promise<BuildEnv> {
  const secrets = new Map<string, Buffer>();
  for (const s of opts.secrets ?? []) {
    if (s.src !== undefined) secrets.set(s.id, await readSecret(s.id, s.src));
    else if (s.env !== undefined && process.env[s.env] !== undefined)
      secrets.set(s.id, Buffer.from(process.env[s.env]!));
    else if (process.env[s.id] !== undefined) secrets.set(s.id, Buffer.from(process.env[s.id]!));
  }
  let runtimeReady: Promise<void> | undefined;
  const tally = new BuildTally();
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
