// The network of RUN in a real build, in both isolations: the default one cannot reach the host's loopback but
// reaches a host outside; RUN --network=host needs --allow network.host (exit 2 without) and runs without
// CAP_NET_RAW; --allow refuses other entitlements; no slirp4netns and no namespace mount outlive a build, a failing
// build, or a SIGKILLed tsbuild.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GET,
  nsfsMounts,
  slirpPids,
  startLoopbackServer,
  startTestHost,
  type TestHost,
} from '../runtime/network-fixtures.js';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from './helpers/env.js';
import { BIN, REPO } from './helpers/tsb.js';

let env: BuildTestEnv;
let loopback: Awaited<ReturnType<typeof startLoopbackServer>>;
let testHost: TestHost;
let n = 0;

beforeAll(async () => {
  env = await makeBuildEnv('network');
  loopback = await startLoopbackServer();
  testHost = await startTestHost();
});

afterAll(async () => {
  await testHost?.stop();
  await loopback?.close();
  await closeBuildEnv(env ?? {});
});

/** The CLI, asynchronously: the loopback server lives in this process and must answer while a build runs. */
function tsbuild(args: string[]): {
  pid: number;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
} {
  const p = spawn(
    BIN,
    [
      '--root',
      env.root,
      '--registry-mirror',
      `http://${env.registry.host}`,
      '--insecure-registry',
      env.registry.host,
      ...args,
    ],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return { pid: p.pid!, done: new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout, stderr }))) };
}

/** A context with this Buildfile; `-o type=local` puts the image's files in `out`. */
async function context(buildfile: string): Promise<{ dir: string; out: string }> {
  const dir = join(env.work, `ctx-${n++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  return { dir, out: join(dir, 'out') };
}

/** slirp4netns processes whose parent is `pid`. */
async function slirpChildrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const p of await slirpPids()) {
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(p);
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.each(['chroot', 'pivot'])('RUN networks (%s isolation)', (isolation) => {
  it("a default RUN cannot reach the host's 127.0.0.1 but reaches a host outside, seeing only lo and tap0", async () => {
    const { dir, out } = await context(
      [
        'FROM busybox',
        `RUN ${GET}(get 127.0.0.1 ${loopback.port} /; get 10.0.2.2 ${loopback.port} /) > /loopback.txt 2>&1; ` +
          `get ${testHost.address} ${testHost.port} /marker > /outside.txt; ls /sys/class/net > /ifaces.txt`,
      ].join('\n'),
    );
    const hits = loopback.hits();
    const r = await tsbuild(['build', '--isolation', isolation, '--no-cache', '-o', `type=local,dest=${out}`, dir])
      .done;
    expect(r.code, r.stderr).toBe(0);
    expect(loopback.hits()).toBe(hits);
    expect(await readFile(join(out, 'loopback.txt'), 'utf8')).not.toContain('host-loopback-secret');
    expect(await readFile(join(out, 'outside.txt'), 'utf8')).toContain(testHost.marker);
    expect((await readFile(join(out, 'ifaces.txt'), 'utf8')).split('\n').filter(Boolean).sort()).toEqual([
      'lo',
      'tap0',
    ]);
  });

  it("RUN --network=host fails with exit 2 without --allow network.host; with it, it is the host's network without CAP_NET_RAW", async () => {
    const { dir, out } = await context(
      [
        'FROM busybox',
        `RUN --network=host ${GET}get 127.0.0.1 ${loopback.port} / > /loopback.txt; grep CapBnd /proc/self/status > /caps.txt`,
      ].join('\n'),
    );
    const hits = loopback.hits();
    const refused = await tsbuild(['build', '--isolation', isolation, '--no-cache', dir]).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--network=host');
    expect(refused.stderr).toContain('--allow network.host');
    expect(loopback.hits()).toBe(hits);
    const allowed = await tsbuild([
      'build',
      '--isolation',
      isolation,
      '--no-cache',
      '--allow',
      'network.host',
      '-o',
      `type=local,dest=${out}`,
      dir,
    ]).done;
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await readFile(join(out, 'loopback.txt'), 'utf8')).toContain('host-loopback-secret');
    const capBnd = BigInt(`0x${(await readFile(join(out, 'caps.txt'), 'utf8')).split(/\s+/)[1]}`);
    expect(capBnd & (1n << 13n)).toBe(0n);
  });
});

describe('--allow and what a build leaves', () => {
  it('--allow refuses any entitlement but network.host, naming it', async () => {
    const { dir } = await context('FROM busybox\nRUN true\n');
    const r = await tsbuild(['build', '--allow', 'security.insecure', dir]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--allow security.insecure is not supported');
  });

  it('no slirp4netns process and no namespace mount outlive a build, a failing build or a SIGKILLed tsbuild', async () => {
    const mounts = await nsfsMounts();
    const slirps = await slirpPids();
    const ok = await context('FROM busybox\nRUN ls /sys/class/net | grep -qx tap0\nRUN true\n');
    const okRun = tsbuild(['build', '--no-cache', ok.dir]);
    expect((await okRun.done).code).toBe(0);
    expect(await slirpPids()).toEqual(slirps);
    const failing = await context('FROM busybox\nRUN ls /sys/class/net | grep -qx tap0\nRUN exit 3\n');
    const failRun = tsbuild(['build', '--no-cache', failing.dir]);
    expect((await failRun.done).code).toBe(1);
    expect(await slirpPids()).toEqual(slirps);

    // killed in the middle of a RUN: its slirp4netns goes with it (--exit-fd), as do the containers (pdeathsig)
    const slow = await context('FROM busybox\nRUN sleep 600\n');
    const killed = tsbuild(['build', '--no-cache', slow.dir]);
    let children: number[] = [];
    for (let i = 0; i < 600 && children.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      children = await slirpChildrenOf(killed.pid);
    }
    expect(children).toHaveLength(1);
    process.kill(killed.pid, 'SIGKILL');
    await killed.done;
    for (let i = 0; i < 200 && children.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
    expect(children.filter(alive)).toEqual([]);
    expect(await nsfsMounts()).toEqual(mounts);
  });
});
