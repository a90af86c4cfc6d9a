// The seccomp filter a container gets: Docker's default profile for the machine's architecture and the
// container's capabilities, compiled once per capability set.
import { arch } from 'node:os';
import { unsupportedArch } from '../errors.js';
import { compileFilter, encodeFilter } from './bpf.js';
import type { SeccompArch } from './profile.js';

const ARCHES: Record<string, SeccompArch> = { x64: 'x86_64', arm64: 'aarch64' };
const cache = new Map<string, Buffer>();

export function hostSeccompArch(): SeccompArch {
  const a = ARCHES[arch()];
  if (!a) throw unsupportedArch('seccomp', arch());
  return a;
}

/** struct sock_filter[] of Docker's default profile for a container holding `caps` (names without CAP_). */
export function seccompFilter(caps: string[]): Buffer {
  const key = [...caps].sort().join(',');
  let f = cache.get(key);
  if (!f) {
    f = encodeFilter(compileFilter(hostSeccompArch(), caps));
    cache.set(key, f);
  }
  return f;
}
