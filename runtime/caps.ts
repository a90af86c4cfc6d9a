// Capabilities a container keeps: Docker's default set, minus what the isolation mode must drop.
import { REPORT_HINT, RuntimeError } from './errors.js';
import type { Isolation, NetworkMode } from './spec.js';

export const CAP_NUMBERS: Record<string, number> = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  NET_BIND_SERVICE: 10,
  NET_RAW: 13,
  SYS_CHROOT: 18,
  MKNOD: 27,
  AUDIT_WRITE: 29,
  SETFCAP: 31,
};

/** Docker's default capability set (moby's oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPS = Object.keys(CAP_NUMBERS);

/**
 * The set kept by a container: in chroot isolation CAP_SYS_CHROOT goes too (a second chroot is the classic escape);
 * on the host's network CAP_NET_RAW goes (raw sockets there would read the host's traffic).
 */
export function containerCaps(isolation: Isolation, network: NetworkMode = 'default'): string[] {
  return DOCKER_DEFAULT_CAPS.filter(
    (c) => !(isolation === 'chroot' && c === 'SYS_CHROOT') && !(network === 'host' && c === 'NET_RAW'),
  );
}

export function capMask(caps: string[]): bigint {
  let m = 0n;
  for (const c of caps) {
    const n = CAP_NUMBERS[c];
    if (n === undefined) throw new RuntimeError('CAP_UNKNOWN', `unknown capability ${c}`, { hint: REPORT_HINT });
    m |= 1n << BigInt(n);
  }
  return m;
}
