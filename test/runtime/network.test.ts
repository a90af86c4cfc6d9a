// The default network of a container: a private namespace with outbound access through slirp4netns and no way to
// the host's loopback; `host` only when asked, without CAP_NET_RAW; nothing (process, namespace) left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capMask, containerCaps } from '../../runtime/caps.js';
import type { Isolation } from '../../runtime/spec.js';
import { childPids, makeEnv, type Env } from './helpers.js';
import { GET, nsfsMounts, slirpPids, startLoopbackServer, startTestHost, type TestHost } from './network-fixtures.js';

describe.each<Isolation>(['chroot', 'pivot'])('default network (%s isolation)', (isolation) => {
  let env: Env;
  let loopback: Awaited<ReturnType<typeof startLoopbackServer>>;
  let testHost: TestHost;
  const run = (args: string[], spec: Parameters<Env['run']>[1] = {}) => env.run(args, { isolation, ...spec });
  beforeAll(async () => {
    env = await makeEnv();
    loopback = await startLoopbackServer();
    testHost = await startTestHost();
  });
  afterAll(async () => {
    await testHost?.stop();
    await loopback?.close();
    await env?.close();
  });

  it("cannot reach a service on the host's 127.0.0.1 (nor through slirp's gateway 10.0.2.2)", async () => {
    const r = await run([
      '/bin/sh',
      '-c',
      `${GET}for h in 127.0.0.1 10.0.2.2; do get $h ${loopback.port} / && echo "REACHED $h"; done; true`,
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('REACHED');
    expect(r.stdout).not.toContain('host-loopback-secret');
    expect(loopback.hits()).toBe(0);
    // the same command on the host's network does reach it (so the check above can fail)
    const host = await run(['/bin/sh', '-c', `${GET}get 127.0.0.1 ${loopback.port} /`], { network: 'host' });
    expect(host.stdout).toContain('host-loopback-secret\n');
    expect(loopback.hits()).toBe(1);
  });

  it("reaches a host outside through slirp, seeing only lo and tap0, with slirp's DNS in resolv.conf", async () => {
    const r = await run([
      '/bin/sh',
      '-c',
      `${GET}get ${testHost.address} ${testHost.port} /marker | tail -n 1; echo; ls /sys/class/net; echo ==; tail -n +3 /proc/net/dev | cut -d: -f1; echo ==; ip -o -4 addr; readlink /proc/self/ns/net; cat /etc/resolv.conf`,
    ]);
    expect(r.exitCode).toBe(0);
    const parts = r.stdout.split('==\n');
    const [fetched, ...sys] = parts[0]!.split('\n').filter(Boolean);
    expect(fetched).toBe(testHost.marker);
    expect(sys.sort()).toEqual(['lo', 'tap0']);
    expect(
      parts[1]!
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .sort(),
    ).toEqual(['lo', 'tap0']);
    expect(parts[2]).toMatch(/tap0\s+inet 10\.0\.2\.100\/24/);
    const { readlink } = await import('node:fs/promises');
    expect(parts[2]).not.toContain(await readlink('/proc/self/ns/net'));
    expect(parts[2]).toMatch(/^nameserver 10\.0\.2\.3$/m);
    expect(parts[2]).not.toMatch(/^nameserver (?!10\.0\.2\.3$)/m);
  });

  it("host networking is the host's namespace without CAP_NET_RAW; default keeps Docker's set", async () => {
    const { readlink } = await import('node:fs/promises');
    const caps = (out: string): bigint => BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(out)![1]}`);
    const host = await run(['/bin/sh', '-c', 'readlink /proc/self/ns/net; cat /proc/self/status'], { network: 'host' });
    expect(host.stdout.split('\n')[0]).toBe(await readlink('/proc/self/ns/net'));
    expect(caps(host.stdout) & (1n << 13n)).toBe(0n);
    expect(caps(host.stdout)).toBe(capMask(containerCaps(isolation, 'host')));
    const dflt = await run(['/bin/sh', '-c', 'readlink /proc/self/ns/net; cat /proc/self/status']);
    expect(dflt.stdout.split('\n')[0]).not.toBe(await readlink('/proc/self/ns/net'));
    expect(caps(dflt.stdout) & (1n << 13n)).toBe(1n << 13n);
  });

  it('leaves no slirp4netns process and no namespace mount behind', async () => {
    const mountsBefore = await nsfsMounts();
    const r = await run(['/bin/sh', '-c', 'ls /sys/class/net']);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['lo', 'tap0']);
    const children = await childPids();
    const slirps = await slirpPids();
    expect(children.filter((p) => slirps.includes(p))).toEqual([]);
    expect(await nsfsMounts()).toEqual(mountsBefore);
  });
});
