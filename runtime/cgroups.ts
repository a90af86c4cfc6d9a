// Optional resource limits: one cgroup per container, on cgroup v2 (unified) or v1 (one directory per controller,
// as on this hybrid host, where the v2 hierarchy has no controllers). Created before the container starts; the
// container is moved in before its command runs (run.ts holds it on a pipe until then).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../oci/index.js';
import type { Resources } from './spec.js';

const ROOT = '/sys/fs/cgroup';
const PERIOD = 100_000;

export interface Cgroup {
  /** Directories the container's processes join (one on v2, one per controller on v1). */
  dirs: string[];
  attach(pid: number): Promise<void>;
  remove(): Promise<void>;
}

/** A limit could not be applied (controller missing, cgroup not writable). */
export class CgroupError extends TsbuildError {
  override name = 'CgroupError';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super('CGROUP', `cgroup ${path}: ${reason}`, {
      hint: 'resource limits (--memory, --cpus, --pids-limit) need a writable /sys/fs/cgroup with those controllers: run as root on the host (or a --privileged container), or build without the limits',
    });
  }
}

export function hasLimits(r: Resources | undefined): r is Resources {
  return !!r && (r.memoryBytes !== undefined || r.cpus !== undefined || r.pidsLimit !== undefined);
}

function ownV1Path(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls !== undefined && ctrls.split(',').includes(controller)) return path ?? '/';
  }
  return '/';
}

async function put(dir: string, file: string, value: string): Promise<void> {
  try {
    await writeFile(join(dir, file), value);
  } catch (e) {
    throw new CgroupError(join(dir, file), (e as Error).message);
  }
}

export async function createCgroup(id: string, r: Resources): Promise<Cgroup> {
  const dirs: string[] = [];
  const made: string[] = [];
  const mk = async (d: string): Promise<string> => {
    await mkdir(d).catch((e: Error) => {
      throw new CgroupError(d, e.message);
    });
    made.push(d);
    dirs.push(d);
    return d;
  };
  try {
    if (existsSync(join(ROOT, 'cgroup.controllers'))) {
      const want = [
        r.memoryBytes !== undefined && '+memory',
        r.cpus !== undefined && '+cpu',
        r.pidsLimit !== undefined && '+pids',
      ].filter(Boolean);
      await put(ROOT, 'cgroup.subtree_control', want.join(' '));
      const d = await mk(join(ROOT, `tsbuild-${id}`));
      if (r.memoryBytes !== undefined) await put(d, 'memory.max', String(r.memoryBytes));
      if (r.cpus !== undefined) await put(d, 'cpu.max', `${Math.max(1000, Math.round(r.cpus * PERIOD))} ${PERIOD}`);
      if (r.pidsLimit !== undefined) await put(d, 'pids.max', String(r.pidsLimit));
    } else {
      if (r.memoryBytes !== undefined) {
        const d = await mk(join(ROOT, 'memory', ownV1Path('memory'), `tsbuild-${id}`));
        await put(d, 'memory.limit_in_bytes', String(r.memoryBytes));
      }
      if (r.cpus !== undefined) {
        const d = await mk(join(ROOT, 'cpu', ownV1Path('cpu'), `tsbuild-${id}`));
        await put(d, 'cpu.cfs_period_us', String(PERIOD));
        await put(d, 'cpu.cfs_quota_us', String(Math.max(1000, Math.round(r.cpus * PERIOD))));
      }
      if (r.pidsLimit !== undefined) {
        const d = await mk(join(ROOT, 'pids', ownV1Path('pids'), `tsbuild-${id}`));
        await put(d, 'pids.max', String(r.pidsLimit));
      }
    }
  } catch (e) {
    for (const d of made.reverse()) await rmdir(d).catch(() => undefined);
    throw e;
  }
  return {
    dirs,
    async attach(pid) {
      for (const d of dirs) await put(d, 'cgroup.procs', String(pid));
    },
    async remove() {
      for (const d of [...dirs].reverse()) {
        // The last processes may take a moment to leave after the namespace died.
        for (let i = 0; i < 50; i++) {
          try {
            await rmdir(d);
            break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
            await new Promise((res) => setTimeout(res, 10));
          }
        }
      }
    },
  };
}
