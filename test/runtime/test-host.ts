// A "remote" host for network tests, without leaving the machine: a network namespace joined to ours by a veth
// pair (10.250.N.0/30), serving one file over HTTP (busybox httpd) at http://ADDRESS:8080/marker. Reaching it
// from a container proves outbound access; nothing else on any network is contacted.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  const n = process.pid % 250;
  const ns = `tsbnet${process.pid}`;
  const [outer, inner] = [`tsbv${process.pid}a`, `tsbv${process.pid}b`];
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
    server = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', `10.250.${n}.2:8080`, '-h', dir], { stdio: 'ignore' });
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
