// Runs the real CLI (bin/tsbuild) against a store root and a test registry used as the docker.io mirror.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BuildEvent } from '../../../builder/events.js';

export const BIN = fileURLToPath(new URL('../../../bin/tsbuild', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export interface TsbOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run under `strace -f`, tracing these system calls (`trace=` list) into the file `out`. */
  strace?: { calls: string; out: string };
}

export interface Tsb {
  (args: string[], opts?: TsbOptions): { code: number; stdout: string; stderr: string };
  root: string;
}

export function tsbFor(root: string, registryHost: string): Tsb {
  const fn = ((args: string[], opts: TsbOptions = {}) => {
    const cli = [
      BIN,
      '--root',
      root,
      '--registry-mirror',
      `http://${registryHost}`,
      '--insecure-registry',
      registryHost,
    ];
    const traced = opts.strace
      ? ['strace', '-f', '-qq', '-e', `trace=${opts.strace.calls}`, '-o', opts.strace.out]
      : [];
    const [cmd, ...rest] = [...traced, ...cli, ...args];
    const r = spawnSync(cmd!, rest, {
      encoding: 'utf8',
      input: opts.input,
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd ?? REPO,
      maxBuffer: 64 << 20,
      timeout: 600_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }) as Tsb;
  fn.root = root;
  return fn;
}

/** Events of a `--progress=json` build (stderr holds one JSON event per line). */
export function events(stderr: string): BuildEvent[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as BuildEvent);
}

/** step-end events as `instruction → cached`. */
export function stepResults(evs: BuildEvent[]): { instruction: string; stage: string; cached: boolean }[] {
  return evs.flatMap((e) =>
    e.type === 'step-end' ? [{ instruction: e.step.instruction, stage: e.step.stage, cached: e.cached }] : [],
  );
}

export function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
}
