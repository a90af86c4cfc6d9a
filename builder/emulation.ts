// Before a build runs anything: every needed stage with a RUN step must be of a platform this host runs, natively
// or through a binfmt_misc emulator (runtime/binfmt.ts). A stage without RUN (COPY of a cross-compiled binary into
// a foreign base) needs no emulator.
import { checkRunnable } from '../runtime/index.js';
import type { BuildPlan } from './plan.js';

export function checkEmulation(plan: BuildPlan): void {
  checkRunnable(
    plan.needed
      .map((i) => plan.stages[i]!)
      .filter((s) => s.instructions.some((ins) => ins.kind === 'run'))
      .map((s) => ({ platform: s.platform, what: `RUN in stage ${s.displayName}` })),
  );
}
