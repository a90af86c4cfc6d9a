// The cache protocol every step follows, and the layer plumbing shared by RUN, COPY and WORKDIR.
import type { ContainerDirs, ImageRecord, PremadeTar } from '../../store/index.js';
import { overlayLowerOrder } from '../../runtime/index.js';
import { cacheKey, lookup, record } from '../cache.js';
import { NotCachedError } from '../errors.js';
import { historyEntry } from '../image-config.js';
import { explainMiss, inputsFile, inputsName, loadInputs, type StepFacets } from '../reasons.js';
import type { LayerRef, SharedStep, StageState, StepCtx } from './types.js';

export interface StepOutcome {
  /** The layer the step committed, or null when it changed no file. */
  layer: LayerRef | null;
}

/**
 * The key parts of a step known to miss, given only once it has run: a COPY that will run anyway hashes its sources
 * as it copies them, reading each file once (copy.ts). cachedStep then neither looks up nor shares the step.
 */
export class PartsAfterRun {
  constructor(readonly parts: () => unknown) {}
}

/**
 * Runs a step through the cache: the key is the parent's key plus `parts`; on a hit the recorded layer is reused
 * (no container, no layer write); on a miss `exec` runs and its layer is recorded. Either way the stage's layers,
 * history and key advance. Returns whether it was a hit.
 */
export async function cachedStep(
  sc: StepCtx,
  parts: unknown,
  createdBy: string,
  exec: () => Promise<StepOutcome>,
  facets?: Omit<StepFacets, 'instruction'> & { instruction?: string },
  /** false: the step leaves no history entry (ONBUILD, as in BuildKit); its layer, if any, still counts. */
  history = true,
): Promise<boolean> {
  const { env, state } = sc;
  const after = parts instanceof PartsAfterRun ? parts : undefined;
  let key = after ? undefined : cacheKey(state.key, parts);
  const now: StepFacets = { instruction: facets?.instruction ?? JSON.stringify(parts), ...facets };
  state.facets[sc.step.index] = now;
  // another platform of this build running the very same step (a stage independent of the target platform): its
  // result, once it is recorded, as a hit
  let rec: SharedStep | undefined;
  const early = key !== undefined ? env.runningSteps.get(key) : undefined;
  if (early) rec = await early;
  if (!rec && !state.missed && key !== undefined) {
    const found = await lookup(env.store, key);
    if (found)
      rec = { layer: found.layer, created: (found.data as { created?: string } | null)?.created ?? found.createdAt };
  }
  // checked again, since another platform may have started it while the lookup ran; from here to the set below
  // nothing awaits, so two platforms cannot both start it
  const late = rec || key === undefined ? undefined : env.runningSteps.get(key);
  if (late) rec = await late;
  let layer: LayerRef | null;
  let created: string;
  if (rec) {
    layer = rec.layer;
    created = rec.created;
  } else {
    if (env.onlyIfCached)
      throw new NotCachedError(`[${sc.step.stage} ${sc.step.index}/${sc.step.total}] misses the cache`);
    let share: ((s: SharedStep) => void) | undefined;
    let fail: ((e: unknown) => void) | undefined;
    const running = new Promise<SharedStep>((res, rej) => {
      share = res;
      fail = rej;
    });
    // a waiter sees the failure; the build reports it through this platform's step
    running.catch(() => undefined);
    if (key !== undefined) env.runningSteps.set(key, running);
    try {
      let reason: string;
      if (state.noCache) reason = 'cache disabled';
      else if (state.missed) reason = 'parent changed';
      else {
        state.lastInputs ??= loadInputs(
          inputsFile(env.store.root, env.plan.file, inputsName(state.plan.displayName, env.platformLabel)),
        );
        const last = await state.lastInputs;
        let before = last?.[sc.step.index];
        // a COPY's per-file inputs, spooled while its key was hashed, are read only to compare with a last build's;
        // a step keyed after it runs spools them as it copies, so none are compared (not the last's with nothing)
        if (after && before) {
          const { files: _unknownYet, ...rest } = before;
          before = rest;
        } else if (now.filesSpool && !now.files && before) now.files = await now.filesSpool.load();
        reason = explainMiss(now, before, last?.[1]?.base, state.facets[1]?.base);
      }
      env.emit({ type: 'cache-miss', time: Date.now(), step: sc.step, reason });
      state.missed = true;
      // a step that runs may read the base image's layers: the store must have finished recording the pull
      await env.baseImagesStored();
      layer = (await exec()).layer;
      created = env.now();
      key ??= cacheKey(state.key, after!.parts());
      await record(env.store, key, layer, { created });
      share!({ layer, created });
    } catch (e) {
      fail!(e);
      throw e;
    }
  }
  if (layer) {
    now.layer = layer.diffID;
    state.layers.push(layer);
    state.lowerdirs.push(undefined);
  }
  if (history) state.history.push(historyEntry(createdBy, created, layer === null));
  if (created > state.created) state.created = created;
  state.key = key!; // a hit had it before; a miss has it once recorded
  return rec !== undefined;
}

/** Unpacked directories of the stage's layers, lowest first (unpacking any layer not yet unpacked). */
export async function lowerdirsOf(sc: { env: StepCtx['env']; state: StageState }): Promise<string[]> {
  if (sc.env.onlyIfCached) throw new NotCachedError(`the layers of stage ${sc.state.plan.displayName} are read`);
  const { store } = sc.env;
  const s = sc.state;
  await Promise.all(
    s.layers.map(async (l, i) => {
      if (s.lowerdirs[i]) return;
      s.lowerdirs[i] =
        (await store.layers.lowerdir(l.diffID)) ?? (await store.layers.unpack(l.descriptor, l.diffID)).dir;
    }),
  );
  return dedupeLowerdirs(s.lowerdirs as string[]);
}

/** Unpacked directories of an image's layers (COPY --from, RUN --mount from= an image), lowest first. */
export async function imageLowerdirs(env: StepCtx['env'], img: ImageRecord): Promise<string[]> {
  if (env.onlyIfCached) throw new NotCachedError(`the layers of ${img.manifestDigest} are read`);
  return dedupeLowerdirs(await env.store.layers.lowerdirsFor(img));
}

/** The layer list without repeats, lowest first (the same rule the runtime applies when it mounts the overlay). */
export function dedupeLowerdirs(lowerdirs: string[]): string[] {
  return overlayLowerOrder(lowerdirs).reverse();
}

/**
 * Commits an upperdir as a layer and releases the directories. An upperdir with no change still makes a layer,
 * the empty one, as BuildKit's RUN, COPY, ADD and WORKDIR do: the layer count and diff_ids match its images'.
 */
export async function commitDirs(sc: StepCtx, dirs: ContainerDirs, premade?: PremadeTar): Promise<StepOutcome> {
  const early = sc.env.attestsSbom
    ? (await import('../sbom/stage-scan.js')).scanBesideCommit(sc, dirs.upperdir)
    : undefined;
  try {
    const c = await sc.env.store.layers.commit(dirs.upperdir, {
      ...(sc.env.sourceDateEpoch !== undefined ? { sourceDateEpoch: sc.env.sourceDateEpoch } : {}),
      // the scan's view mounts the upperdir by its path: mounted before the commit moves the directory
      ...(early ? { beforeMove: early.holding } : {}),
      ...(premade ? { premade } : {}),
    });
    if (!c.empty) sc.env.tally.layerWritten();
    await early?.keep(c.diffID);
    return { layer: { diffID: c.diffID, descriptor: c.descriptor } };
  } finally {
    // the scan reads the upperdir through its own mount: it ends before the directories go
    await early?.settled();
    await dirs.release();
  }
}
