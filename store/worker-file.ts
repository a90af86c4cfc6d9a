// Starting a worker thread from its own compiled module (hash-worker.ts, layer-tar/file-worker.ts), so that the
// compiler, the linter and a debugger see the worker's code.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The compiled worker entry `name` for the module at `from` (its import.meta.url): the file beside it, which is
 * tsc's output (dist/store/…) or, in the CLI bundle, the worker's own bundle next to main.cjs (scripts/bundle.mjs
 * emits every worker there). Tests run the TypeScript sources, which Node 20 cannot start as a worker: they get
 * tsc's output under dist/ (`npm run build` first).
 */
export function workerUrl(name: string, from: string): URL {
  if (!from.endsWith('.ts')) return new URL(`./${name}.js`, from);
  const root = new URL('../', import.meta.url).href; // this file is store/worker-file.ts
  const dir = from.slice(root.length, from.lastIndexOf('/') + 1);
  return new URL(`dist/${dir}${name}.js`, root);
}

/**
 * Starts worker `name` (see workerUrl) with `workerData`; unreferenced until its owner has a job for it. `opts`:
 * what `workerData` transfers (a MessagePort), and the heap's limits when not the small default (a worker that
 * holds a directory's names, as the context walk's does, must not have its old generation capped).
 */
export function startWorker(
  name: string,
  from: string,
  workerData: unknown,
  opts: { transferList?: WorkerOptions['transferList']; resourceLimits?: WorkerOptions['resourceLimits'] } = {},
): Worker {
  const w = new Worker(workerUrl(name, from), {
    workerData,
    ...(opts.transferList ? { transferList: opts.transferList } : {}),
    // the parent's flags, but one Node refuses for a worker started from a file (a host run as `node
    // --input-type=module -e …` has it)
    execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
    // a small heap: the workers only hash, copy and write, making a few short-lived objects per job
    resourceLimits: opts.resourceLimits ?? { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
  });
  w.unref();
  return w;
}
