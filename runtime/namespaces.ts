// UTS, IPC and network namespaces made by the parent itself, for one synchronous spawn. unshare(2) of these three
// affects only the calling thread, so Node's main thread can step into fresh ones, set the hostname and bring `lo`
// up, fork the container (the child inherits them) and step back, all within one tick and a few microseconds.
// The mount and PID namespaces cannot be made this way in a threaded process; util-linux unshare does those.
import { openSync } from 'node:fs';
import { CLONE, interfaceUp, sethostname, setns, unshare } from './libc.js';
import type { NetworkMode } from './spec.js';

let hostFds: { uts: number; ipc: number; net: number } | undefined;

function host(): { uts: number; ipc: number; net: number } {
  hostFds ??= {
    uts: openSync('/proc/thread-self/ns/uts', 'r'),
    ipc: openSync('/proc/thread-self/ns/ipc', 'r'),
    net: openSync('/proc/thread-self/ns/net', 'r'),
  };
  return hostFds;
}

/** Runs `fn` (synchronous: a spawn and mounts that must see the container's netns) inside fresh UTS/IPC[/NET]. */
export function withContainerNamespaces<T>(opts: { hostname: string; network: NetworkMode }, fn: () => T): T {
  const fds = host();
  const net = opts.network === 'none';
  unshare(CLONE.NEWUTS | CLONE.NEWIPC | (net ? CLONE.NEWNET : 0));
  try {
    sethostname(opts.hostname);
    if (net) interfaceUp('lo');
    return fn();
  } finally {
    setns(fds.uts, CLONE.NEWUTS);
    setns(fds.ipc, CLONE.NEWIPC);
    if (net) setns(fds.net, CLONE.NEWNET);
  }
}
