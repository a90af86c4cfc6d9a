// Network test fixtures. A "remote" host, without leaving the machine: a network namespace joined to ours by a veth
// pair (10.250.N.0/30), serving one file over HTTP (busybox httpd) at http://ADDRESS:8080/marker. Reaching it
// from a container proves outbound access; nothing else on any network is contacted.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestHost {
  /** http://10.250.N.2:8080/marker */
  url: string;
  address: string;
  port: number;
  /** What the URL serves. */
  marker: string;
  stop(): Promise<void>;
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

export async function startTestHost(): Promise<TestHost> {
  // test files may run at once in one process: names and subnet are random
  const id = randomBytes(3).toString('hex');
  const n = randomBytes(1)[0]!;
  const ns = `tsbnet-${id}`;
  const [outer, inner] = [`tsbv${id}a`, `tsbv${id}b`];
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-test-host-'));
  const marker = `marker-${process.pid}-${Date.now()}`;
  await writeFile(join(dir, 'marker'), marker);
  let server: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (server?.exitCode === null) {
      server.kill('SIGKILL');
      await new Promise((r) => server!.once('close', r));
    }
    try {
      ip('netns', 'del', ns);
    } catch {
      // not made
    }
    try {
      ip('link', 'del', outer);
    } catch {
      // went with the namespace
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
    ip('link', 'set', inner, 'netns', ns);
    ip('addr', 'add', `10.250.${n}.1/30`, 'dev', outer);
    ip('link', 'set', outer, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `10.250.${n}.2/30`, 'dev', inner);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', inner, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    server = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', `10.250.${n}.2:8080`, '-h', dir], {
      stdio: 'ignore',
    });
    // ready when it answers from our side of the veth
    const url = `http://10.250.${n}.2:8080/marker`;
    for (let i = 0; ; i++) {
      try {
        if ((await (await fetch(url)).text()) === marker) break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { url, address: `10.250.${n}.2`, port: 8080, marker, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A service only on the host's loopback, counting the requests it gets. */
export async function startLoopbackServer(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.end('host-loopback-secret\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Pids of running slirp4netns processes. */
export async function slirpPids(): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const comm = await readFile(`/proc/${p}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'slirp4netns') out.push(Number(p));
  }
  return out;
}

/** nsfs mounts (a network namespace kept by a bind mount) in our mount namespace. */
export async function nsfsMounts(): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((l) => / - nsfs /.test(l))
    .map((l) => l.split(' ')[4]!);
}

/** A shell function `get HOST PORT PATH`: an HTTP GET with busybox nc (busybox-static's wget crashes here). */
export const GET = 'get() { printf "GET $3 HTTP/1.0\\r\\nHost: $1\\r\\n\\r\\n" | nc -w 3 "$1" "$2"; }; ';
