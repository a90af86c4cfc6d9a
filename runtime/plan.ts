// What init.ts needs to build a container inside its own namespaces (pivot isolation), as JSON in a file.
import type { EtcFiles } from './etc-files.js';
import type { PlannedMount } from './mounts.js';

export interface InitPlan {
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  /** Host directory the overlay is mounted on inside the container's mount namespace. */
  root: string;
  etcFiles: EtcFiles;
  mounts: PlannedMount[];
  /** Where init writes the mount points it made in the upperdir, with their inodes (JSON Trace[]). */
  tracesFile: string;
  user?: string;
  cwd: string;
  args: string[];
  env: string[];
  /** Capabilities kept, as a hex mask. */
  caps: string;
  /** Cgroup directories init joins before it switches root (its threads end at execve). */
  cgroupDirs: string[];
  /** RLIMIT_NOFILE soft = hard (capped at the current hard limit). */
  nofile: number;
  /** Bind the current /proc instead of mounting a fresh one (ContainerSpec.procShared). */
  procShared?: boolean;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The container's environment: PATH defaults to the standard one, HOME to the user's home. */
export function containerEnv(env: string[], home: string): string[] {
  const out = [...env];
  const has = (k: string): boolean => out.some((e) => e.startsWith(`${k}=`));
  if (!has('PATH')) out.push(`PATH=${DEFAULT_PATH}`);
  if (!has('HOME')) out.push(`HOME=${home}`);
  return out;
}

export function envObject(env: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const e of env) {
    const i = e.indexOf('=');
    if (i > 0) o[e.slice(0, i)] = e.slice(i + 1);
  }
  return o;
}
