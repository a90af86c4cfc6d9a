// The default network: a private network namespace whose only way out is slirp4netns, a user-mode TCP/IP stack
// running in the host's namespace. Containers join it with setns(); it has no route to the host's loopback
// (--disable-host-loopback), so services on the host's 127.0.0.1 stay out of reach. slirp4netns rather than
// pasta: it is what podman pulls in here (pasta is only in Debian as a 2023 snapshot), it has --exit-fd (it dies
// with tsbuild even on SIGKILL), and it sandboxes itself (own mount namespace, seccomp) while parsing the
// container's packets.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { TsbuildError } from '../oci/index.js';
import { makeNetworkNamespace } from './namespaces.js';

/** Addresses slirp4netns gives the namespace (its defaults, with --configure). */
export const SLIRP_DNS = '10.0.2.3';
const MTU = 65520;
const READY_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 2_000;

/** A network namespace with outbound access, joined by any number of containers until `close()`. */
export interface Network {
  /** fd of the network namespace (for setns). */
  fd: number;
  /** Stops slirp4netns and releases the namespace. Safe to call twice. */
  close(): Promise<void>;
}

/** The default network of RUN could not start (slirp4netns missing, or it failed). */
export class NetworkError extends TsbuildError {
  override name = 'NetworkError';
  constructor(message: string, code = 'NETWORK') {
    super(code, message, {
      hint:
        code === 'NETWORK_SLIRP_MISSING'
          ? 'install slirp4netns (Debian: apt-get install slirp4netns), or build with --network none (or host)'
          : 'slirp4netns gives RUN its network: check that it runs here (slirp4netns --version), or build with --network none (or host)',
    });
  }
}

function findSlirp(): string {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/bin', '/usr/local/bin'])) {
    if (d && existsSync(join(d, 'slirp4netns'))) return join(d, 'slirp4netns');
  }
  throw new NetworkError('slirp4netns not found: the default network of RUN needs it', 'NETWORK_SLIRP_MISSING');
}

/** Makes the namespace and starts slirp4netns on it; resolves once tap0 is configured. */
export async function createNetwork(): Promise<Network> {
  const slirp = findSlirp();
  const fd = makeNetworkNamespace();
  let child: ChildProcess;
  try {
    // fd 3: slirp writes "1" once tap0 is up; fd 4: slirp exits when our end closes (also when we are SIGKILLed).
    child = spawn(
      slirp,
      [
        '--configure',
        `--mtu=${MTU}`,
        '--disable-host-loopback',
        '--enable-sandbox',
        '--enable-seccomp',
        '--ready-fd=3',
        '--exit-fd=4',
        '--netns-type=path',
        `/proc/${process.pid}/fd/${fd}`,
        'tap0',
      ],
      // detached: a Ctrl-C to the terminal's process group must not end it before the containers are gone
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
    );
  } catch (e) {
    closeSync(fd);
    throw new NetworkError(`start slirp4netns: ${(e as Error).message}`);
  }
  child.on('error', () => undefined); // reported through 'exit'/the ready wait below
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exitEnd = child.stdio[4] as Writable;
  exitEnd.on('error', () => undefined);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return exited;
    closed = true;
    exitEnd.destroy();
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
      closeSync(fd);
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      (child.stdio[3] as Readable).once('data', () => (clearTimeout(timer), resolve()));
      child.once('error', (e) => (clearTimeout(timer), reject(e)));
      child.once(
        'exit',
        (code, sig) => (clearTimeout(timer), reject(new Error(`exited (${sig ?? code}) before it was ready`))),
      );
    });
  } catch (e) {
    await close();
    throw new NetworkError(
      `start slirp4netns: ${(e as Error).message}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join('; ')}` : ''}`,
    );
  }
  (child.stdio[3] as Readable).resume();
  return { fd, close };
}
