// RUN with copy snapshots (issue 16): the parent chain's snapshot is copied to a scratch tree, the command runs
// chrooted in it without namespaces (runtime runPlain), the scratch is compared with the record of the copy into an
// upperdir (store diffScratch) that is committed as any RUN's, and the scratch becomes the new chain's snapshot.
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MountSpec } from '../../runtime/index.js';
import type { Scratch, Snapshots } from '../../store/index.js';
import { BuildError } from '../errors.js';
import { FlagError } from '../flags.js';
import { commitDirs, type StepOutcome } from './common.js';
import type { BuildEnv, StepCtx } from './types.js';

export interface CopyRunInput {
  argv: string[];
  env: string[];
  cwd: string;
  user?: string;
  network: 'default' | 'host' | 'none';
  mounts: MountSpec[];
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
}

/** Builds whose "no network namespace here" warning was given (once per build). */
const warnedNetwork = new WeakSet<BuildEnv>();

/** What the RUN cannot have in copy-snapshot mode, as an error naming it; undefined when it can run. */
export function copyRunRefusal(sc: StepCtx, input: Pick<CopyRunInput, 'network' | 'mounts'>): Error | undefined {
  const { env } = sc;
  const line = sc.ins.range.line;
  if (env.isolation === 'none') {
    return new BuildError(
      'RUN cannot run with isolation none: it needs a root switch (chroot), which this environment does not allow',
      {
        file: env.plan.file,
        step: sc.step,
        source: sc.ins.original,
        hint: 'run tsbuild as root in the container (it keeps CAP_SYS_CHROOT), or where user namespaces are allowed; builds without RUN work with isolation none',
      },
    );
  }
  if (input.network === 'none')
    return new FlagError(
      'RUN --network=none cannot be honoured with copy snapshots: no network namespace can be made here, the command would have the network of the environment',
      line,
    );
  const mount = input.mounts.find((m) => m.type !== 'file');
  if (mount)
    return new FlagError(
      `RUN --mount=type=${mount.type === 'bind' ? 'bind/cache' : mount.type} is not supported with copy snapshots: no mount can be made here (secrets are)`,
      line,
    );
  return undefined;
}

export async function runInCopy(
  sc: StepCtx,
  snapshots: Snapshots,
  input: CopyRunInput,
): Promise<{ outcome?: StepOutcome; exitCode: number | null; signal: string | null; timedOut: boolean }> {
  const { env, state } = sc;
  const refusal = copyRunRefusal(sc, input);
  if (refusal) throw refusal;
  if (input.network === 'default' && !warnedNetwork.has(env)) {
    warnedNetwork.add(env);
    env.emit({
      type: 'log',
      time: Date.now(),
      level: 'warn',
      message:
        'copy snapshots: RUN steps use the network of the environment tsbuild runs in (no network namespace can be made here)',
    });
  }
  const { plainRunRefusal, runPlain } = await import('../../runtime/index.js');
  // said before the snapshot is copied: a process that cannot chroot cannot run any RUN here
  const cannot = await plainRunRefusal();
  if (cannot) {
    throw new BuildError(`RUN cannot run with copy snapshots here: ${cannot}`, {
      file: env.plan.file,
      step: sc.step,
      source: sc.ins.original,
      hint: 'run tsbuild as root in the container, or where a user namespace can be made; builds without RUN work',
    });
  }
  const parent = [...state.layers];
  const scratch: Scratch = await snapshots.scratch(parent);
  let adopted = false;
  try {
    // the record holds ctimes as the copy left them; a change the command made in the same tick of the coarse clock
    // would keep the same ctime: runPlain starts the command only once the clock has moved on
    const workDir = `${dirname(scratch.dir)}/run`;
    const result = await runPlain({
      rootDir: scratch.dir,
      workDir,
      args: input.argv,
      env: input.env,
      cwd: input.cwd,
      ...(input.user ? { user: input.user } : {}),
      network: input.network,
      files: input.mounts.flatMap((m) => (m.type === 'file' ? [m] : [])),
      helperDir: `${env.store.root}/runtime`,
      ...(env.signal ? { signal: env.signal } : {}),
      onStdout: input.onStdout,
      onStderr: input.onStderr,
      onWarning: (message) => env.emit({ type: 'log', time: Date.now(), level: 'warn', message }),
    }).finally(() => rm(workDir, { recursive: true, force: true }));
    if (result.exitCode !== 0) return { exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut };
    const { diffScratch } = await import('../../store/index.js');
    const dirs = await env.store.containerDirs();
    try {
      diffScratch(scratch.dir, scratch.record, dirs.upperdir, { placed: result.placed, restored: result.restored });
    } catch (e) {
      await dirs.release();
      throw e;
    }
    const outcome = await commitDirs(sc, dirs);
    if (outcome.layer) {
      await snapshots.adopt(scratch, [...parent, outcome.layer]);
      adopted = true;
    }
    return { outcome, exitCode: 0, signal: null, timedOut: false };
  } finally {
    if (!adopted) await scratch.release();
  }
}
