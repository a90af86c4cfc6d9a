// UTS, IPC and network namespaces made by the parent itself, for one synchronous spawn. unshare(2) of these three
// affects only the calling thread, so Node's main thread can step into fresh ones, set the hostname and bring `lo`
// up, fork the container (the child inherits them) and step back, all within one tick and a few microseconds.
// The mount and PID namespaces cannot be made this way in a threaded process; util-linux unshare does those.
import { mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { REPORT_HINT, RuntimeError } from './errors.js';
import { CLONE, interfaceUp, sethostname, setns, unshare } from './libc.js';
import { defaultRunDir } from './rundir.js';
import type { NetworkMode } from './spec.js';
import { inUserNamespace, makeNetworkNamespaceOutside } from './userns.js';

let hostFds: { uts: number; ipc: number; net: number } | undefined;

function host(): { uts: number; ipc: number; net: number } {
  hostFds ??= {
    uts: openSync('/proc/thread-self/ns/uts', 'r'),
    ipc: openSync('/proc/thread-self/ns/ipc', 'r'),
    net: openSync('/proc/thread-self/ns/net', 'r'),
  };
  return hostFds;
}

/**
 * Makes a network namespace with `lo` up and returns an fd of it (O_CLOEXEC: no container inherits it). The main
 * thread steps in and straight back; the namespace lives as long as the fd (or a process in it).
 */
export function makeNetworkNamespace(): number {
  if (inUserNamespace()) {
    mkdirSync(defaultRunDir(), { recursive: true, mode: 0o700 });
    return makeNetworkNamespaceOutside(defaultRunDir());
  }
  const fds = host();
  unshare(CLONE.NEWNET);
  try {
    const fd = openSync('/proc/thread-self/ns/net', 'r');
    interfaceUp('lo');
    return fd;
  } finally {
    setns(fds.net, CLONE.NEWNET);
  }
}

let hostnameWarned = false;

/**
 * Sets the container's host name. Inside a container (rootless, root without CAP_SYS_ADMIN) the outer seccomp
 * profile may deny sethostname even in a UTS namespace of our own (podman's does): the command then sees the outer
 * host name, said once as a warning.
 */
function setHostname(name: string): void {
  try {
    sethostname(name);
  } catch (e) {
    if (!inUserNamespace() || (e as { code?: unknown }).code !== 'EPERM') throw e;
    if (!hostnameWarned)
      process.emitWarning(
        `the host name of RUN cannot be set here (sethostname is denied, a seccomp profile around tsbuild?): RUN sees "${hostname()}" instead of "${name}"`,
      );
    hostnameWarned = true;
  }
}

/**
 * Runs `fn` (synchronous: a spawn and mounts that must see the container's netns) inside fresh UTS/IPC namespaces
 * and the container's network: the host's for `host`, a fresh one with only `lo` for `none`, and the namespace
 * `netns` (an fd from makeNetworkNamespace, with slirp4netns attached) for `default`.
 */
export function withContainerNamespaces<T>(
  opts: { hostname: string; network: NetworkMode; netns?: number },
  fn: () => T,
): T {
  const fds = host();
  if (opts.network === 'default' && opts.netns === undefined)
    throw new RuntimeError('NETWORK_MISSING', 'network default: no network namespace to join', { hint: REPORT_HINT });
  // in a user namespace the container's chain joins its network itself (runtime/userns.ts)
  const ownNet = !inUserNamespace();
  const fresh = ownNet && opts.network === 'none';
  const joined = ownNet && opts.network === 'default';
  unshare(CLONE.NEWUTS | CLONE.NEWIPC | (fresh ? CLONE.NEWNET : 0));
  try {
    if (joined) setns(opts.netns!, CLONE.NEWNET);
    setHostname(opts.hostname);
    if (fresh) interfaceUp('lo');
    return fn();
  } finally {
    setns(fds.uts, CLONE.NEWUTS);
    setns(fds.ipc, CLONE.NEWIPC);
    if (fresh || joined) setns(fds.net, CLONE.NEWNET);
  }
}
