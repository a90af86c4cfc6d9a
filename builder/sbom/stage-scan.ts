// The SBOM scan of a stage's filesystem, kept by layer chain (scan-cache.ts). A build that attests an SBOM starts
// the scan of its image while the last layer commits: the commit waits on its worker threads and the disk, and the
// scan (a walk of the whole image on this thread, giving way between directories) fills that wait, instead of
// starting when the image is done.
import { join } from 'node:path';
import type { Digest } from '../../oci/index.js';
import { lowerdirsOf } from '../steps/common.js';
import type { BuildEnv, StageState, StepCtx } from '../steps/types.js';
import { openLayersView, withView } from '../view.js';
import { scanTreeYielding, type ScanResult } from './scan.js';
import { cachedScan, keepScan } from './scan-cache.js';
import { openImageTree } from './tree.js';

/** Where a store keeps its scans. */
export function scansDir(env: BuildEnv): string {
  return join(env.store.root, 'builder', 'sbom-scans');
}

/** The scan of a stage's filesystem (a read-only view of its layers), or the one kept for the same layers. */
export function scanStage(env: BuildEnv, st: StageState): Promise<ScanResult> {
  return cachedScan(
    scansDir(env),
    st.layers.map((l) => l.diffID),
    async () => {
      const view = await openLayersView(env, { layers: st.layers, lowerdirs: () => lowerdirsOf({ env, state: st }) });
      try {
        return await scanDir(view.dir);
      } finally {
        await view.close();
      }
    },
  );
}

async function scanDir(dir: string): Promise<ScanResult> {
  const tree = openImageTree(dir);
  try {
    return await scanTreeYielding(tree);
  } finally {
    tree.close();
  }
}

/** Instructions whose step commits a layer. */
const LAYER_KINDS = new Set(['run', 'copy', 'add', 'workdir']);

export interface EarlyScan {
  /** Keeps the scan as that of the stage's layers and the committed one (`diffID`); never throws. */
  keep(diffID: Digest): Promise<void>;
  /**
   * Resolves once the scan's view holds the upperdir (mounted: the commit may move the directory then), or the scan
   * has ended; never rejects.
   */
  holding(): Promise<void>;
  /** Resolves when the scan has ended, however it ended. */
  settled(): Promise<void>;
}

/**
 * Starts the scan of the target stage's final filesystem (its layers and `upperdir`, the layer being committed)
 * when `sc` is the stage's last step that commits a layer; undefined otherwise. Overlay snapshots only (copy
 * snapshots scan the stage's snapshot afterwards).
 */
export function scanBesideCommit(sc: StepCtx, upperdir: string): EarlyScan | undefined {
  const { env, state, ins } = sc;
  if (env.snapshots || env.onlyIfCached) return undefined;
  const target = env.plan.stages[env.plan.target];
  if (state.plan !== target) return undefined;
  const last = target.instructions.findLast((i) => LAYER_KINDS.has(i.kind));
  if (ins !== last) return undefined;
  const below = state.layers.map((l) => l.diffID);
  let mounted: () => void = () => undefined;
  const held = new Promise<void>((res) => (mounted = res));
  const result = lowerdirsOf({ env, state }).then((lowers) =>
    withView([...lowers, upperdir], env.tmpDir, (view) => {
      mounted();
      return scanDir(view);
    }),
  );
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  // a scan that fails before it mounts holds nothing
  const holding = Promise.race([held, settled]);
  return {
    keep: async (diffID) => {
      const r = await result.catch(() => undefined);
      if (r) await keepScan(scansDir(env), [...below, diffID], r);
    },
    holding: () => holding,
    settled: () => settled,
  };
}
