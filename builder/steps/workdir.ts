// WORKDIR: sets the working directory (relative to the previous one) and creates it as BuildKit does — owned by
// the stage's USER when one is set — with a layer even when it created nothing (the empty layer), except for `/`,
// which BuildKit records as a metadata step.
import { posix } from 'node:path';
import { expand } from '../expand.js';
import { secureResolve } from '../fsutil.js';
import { resolveOwner } from '../users.js';
import { withLayersView } from '../view.js';
import { cachedStep, commitDirs, lowerdirsOf } from './common.js';
import type { WordInstruction } from '../../parser/index.js';
import { stageVars, type StepCtx } from './types.js';
import { UpperWriter } from './upper.js';

export async function workdirStep(sc: StepCtx<WordInstruction>): Promise<boolean> {
  const { state, env } = sc;
  const cfg = state.config.config;
  const word = expand(sc.ins.word, stageVars(state), env.plan.escapeToken);
  const wd = posix.normalize(posix.isAbsolute(word) ? word : posix.join(cfg.WorkingDir || '/', word));
  cfg.WorkingDir = wd;
  const user = cfg.User ?? '';
  if (wd === '/') return cachedStep(sc, ['WORKDIR', wd], `WORKDIR ${wd}`, async () => ({ layer: null }));
  return cachedStep(sc, ['WORKDIR', wd, user], `WORKDIR ${wd}`, async () => {
    const dirs = await env.store.containerDirs();
    try {
      await withLayersView(env, { layers: state.layers, lowerdirs: () => lowerdirsOf(sc) }, async (view) => {
        const w = new UpperWriter(view, dirs.upperdir);
        const real2 = await secureResolve(view, wd);
        const st = await w.viewStat(real2);
        if (st?.isDirectory()) return;
        const owner = user ? await resolveOwner(user, view).catch(() => ({ uid: 0, gid: 0 })) : { uid: 0, gid: 0 };
        await w.mkdirs(real2, owner);
        await w.finish();
      });
    } catch (e) {
      await dirs.release();
      throw e;
    }
    return commitDirs(sc, dirs);
  });
}
