// Shared set-up for the runtime tests: a busybox rootfs as lowerdir, fresh upper/work dirs per run, a private run
// dir per test file, and checks that nothing (mounts, processes, dirs) is left behind.
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';
import { cleanupStaleMounts, runContainer } from '../../runtime/index.js';
import type { ContainerResult, ContainerSpec } from '../../runtime/spec.js';

export interface Env {
  base: string;
  lower: string;
  runDir: string;
  run(args: string[], spec?: Partial<ContainerSpec>): Promise<RunOutput>;
  dirs(): Promise<{ upperdir: string; workdir: string }>;
  close(): Promise<void>;
}

export interface RunOutput extends ContainerResult {
  stdout: string;
  stderr: string;
  upperdir: string;
  stdoutChunks: number;
}

export async function makeEnv(): Promise<Env> {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-rt-'));
  const lower = await makeBusyboxRootfs(join(base, 'lower'));
  const runDir = join(base, 'run');
  let n = 0;
  const dirs = async (): Promise<{ upperdir: string; workdir: string }> => {
    const d = join(base, `c${n++}`);
    await mkdir(join(d, 'u'), { recursive: true });
    await mkdir(join(d, 'w'));
    return { upperdir: join(d, 'u'), workdir: join(d, 'w') };
  };
  return {
    base,
    lower,
    runDir,
    dirs,
    async run(args, spec = {}) {
      const { upperdir, workdir } = await dirs();
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const r = await runContainer({
        rootfs: { lowerdirs: [lower], upperdir, workdir },
        args,
        env: [],
        runDir,
        onStdout: (c) => out.push(c),
        onStderr: (c) => err.push(c),
        ...spec,
      });
      return {
        ...r,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        upperdir: spec.rootfs?.upperdir ?? upperdir,
        stdoutChunks: out.length,
      };
    },
    async close() {
      await cleanupStaleMounts(runDir);
      if (mountsUnder(base).length > 0) throw new Error(`mounts left under ${base}: ${mountsUnder(base).join(', ')}`);
      await rm(base, { recursive: true, force: true });
    },
  };
}

export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!)
    .filter((m) => m === dir || m.startsWith(dir + '/'));
}

/** Every path under `dir`, relative, sorted. */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out.sort();
}

/** Pids of this process's direct children (the runtime's chains, while they live). */
export async function childPids(): Promise<number[]> {
  const tasks = await readdir('/proc/self/task');
  const pids: number[] = [];
  for (const t of tasks) {
    const c = await readFile(`/proc/self/task/${t}/children`, 'utf8').catch(() => '');
    pids.push(...c.split(' ').filter(Boolean).map(Number));
  }
  return pids;
}

/** Processes on the host whose argv is exactly `argv` (e.g. `sleep 987`, space-separated). */
export async function processesMatching(argv: string): Promise<number[]> {
  const found: number[] = [];
  const want = argv.split(' ').join('\0') + '\0';
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd === want) found.push(Number(p));
  }
  return found;
}
