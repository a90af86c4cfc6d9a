// Lifetime of containers: abort, many runs in a row, a crashed tsbuild, deep images, cgroup limits.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStaleMounts, runContainer } from '../../runtime/index.js';
import { holdRunDir } from '../../runtime/rundir.js';
import type { Isolation } from '../../runtime/spec.js';
import { childPids, makeEnv, mountsUnder, processesMatching, tree, type Env } from './helpers.js';

let env: Env;
beforeAll(async () => {
  env = await makeEnv();
});
afterAll(async () => {
  await env?.close();
});

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each<Isolation>(['chroot', 'pivot'])('lifetime (%s isolation)', (isolation) => {
  it('an abort during `sleep 100` returns within a second, with nothing mounted and no process left', async () => {
    const ac = new AbortController();
    const marker = isolation === 'chroot' ? '987' : '986';
    let abortedAt = 0;
    const running = env.run(['/bin/sh', '-c', `echo started; exec sleep ${marker}`], {
      isolation,
      signal: ac.signal,
      onStdout: () => {
        abortedAt = performance.now();
        ac.abort();
      },
    });
    const r = await running;
    const took = performance.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(r.aborted).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(took).toBeLessThan(1000); // the bound: Ctrl-C returns within a second
    expect(mountsUnder(env.runDir).filter((m) => m !== env.runDir)).toEqual([]);
    expect(await processesMatching(`sleep ${marker}`)).toEqual([]);
    expect(await childPids()).toEqual([]);
    expect(await readdir(join(env.runDir, 'c'))).toEqual([]);
  });

  it('an already aborted signal starts nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(env.run(['/bin/true'], { isolation, signal: ac.signal })).rejects.toThrow(/abort/i);
    expect(await readdir(join(env.runDir, 'c'))).toEqual([]);
  });

  it('a crashed tsbuild (SIGKILL) takes its container down; cleanupStaleMounts removes what it mounted', async () => {
    const script = join(env.base, `crash-${isolation}.mjs`);
    const runtime = fileURLToPath(new URL('../../dist/runtime/index.js', import.meta.url));
    const { upperdir, workdir } = await env.dirs();
    const marker = isolation === 'chroot' ? '985' : '984';
    await writeFile(
      script,
      `import { runContainer } from ${JSON.stringify(runtime)};
await runContainer({ rootfs: { lowerdirs: [${JSON.stringify(env.lower)}], upperdir: ${JSON.stringify(upperdir)}, workdir: ${JSON.stringify(workdir)} },
  args: ['/bin/sh', '-c', 'echo ready; exec sleep ${marker}'], env: [], user: 'nobody', isolation: ${JSON.stringify(isolation)},
  runDir: ${JSON.stringify(env.runDir)}, onStdout: (c) => process.stdout.write(c) });`,
    );
    const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stop = (): boolean => proc.kill('SIGKILL');
    process.once('exit', stop);
    try {
      await new Promise<void>((resolve) =>
        proc.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()),
      );
      await waitFor(
        async () => (await processesMatching(`sleep ${marker}`)).length === 1,
        'the container to run sleep',
      );
      const exited = new Promise((r) => proc.once('exit', r));
      stop();
      await exited;
    } finally {
      stop();
      process.off('exit', stop);
    }
    await waitFor(
      async () => (await processesMatching(`sleep ${marker}`)).length === 0,
      'the container to die with its parent',
    );
    const left = mountsUnder(join(env.runDir, 'c'));
    // chroot isolation mounts in a private tree of the host namespace; pivot isolation mounts only inside the
    // container.
    if (isolation === 'pivot') expect(left).toEqual([]);
    else expect(left.length).toBeGreaterThan(0);
    await cleanupStaleMounts(env.runDir);
    expect(mountsUnder(env.runDir)).toEqual([]);
    expect(await readdir(join(env.runDir, 'c'))).toEqual([]);
  });
});

describe('many containers', () => {
  it('100 containers in a row leave no mounts, no processes, no temp dirs', async () => {
    await env.run(['/bin/true']); // the run dir's own private bind mount is made once
    // other tests share the host's mount namespace: count only the lines that concern this test's directories
    const ours = (): string[] =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(env.base));
    const mountsBefore = ours();
    const baseBefore = (await readdir(env.base)).length;
    for (let i = 0; i < 100; i++) {
      const r = await env.run(['/bin/true'], {
        isolation: i % 10 === 9 ? 'pivot' : 'chroot',
        network: i % 2 ? 'none' : 'host',
      });
      expect(r.exitCode).toBe(0);
      expect(await tree(r.upperdir)).toEqual([]);
    }
    expect(ours()).toEqual(mountsBefore);
    expect(await childPids()).toEqual([]);
    expect(await readdir(join(env.runDir, 'c'))).toEqual([]);
    // only the 100 upper/work pairs the test itself made
    expect((await readdir(env.base)).length).toBe(baseBefore + 100);
  });
});

describe('deep images', () => {
  it.each<Isolation>(['chroot', 'pivot'])('120 lowerdirs mount (%s)', async (isolation) => {
    const layers = join(env.base, `l-${isolation}`);
    const lowerdirs = [env.lower];
    for (let i = 0; i < 120; i++) {
      // 26-character names, like the store's short overlay links (Docker's overlay2 l/ directory)
      const d = join(layers, `${String(i).padStart(3, '0')}${'X'.repeat(23)}`);
      await mkdir(join(d, 'layers'), { recursive: true });
      await writeFile(join(d, 'layers', `f${i}`), `${i}`);
      lowerdirs.push(d);
    }
    expect(lowerdirs.join(':').length).toBeGreaterThan(4096);
    const { upperdir, workdir } = await env.dirs();
    const out: Buffer[] = [];
    const r = await runContainer({
      rootfs: { lowerdirs, upperdir, workdir },
      args: ['/bin/sh', '-c', 'ls /layers | wc -l; cat /layers/f119'],
      env: [],
      isolation,
      runDir: env.runDir,
      onStdout: (c) => out.push(c),
    });
    expect(r.exitCode).toBe(0);
    expect(Buffer.concat(out).toString()).toBe('120\n119');
  });
});

describe('cgroup limits', () => {
  const v1 = existsSync('/sys/fs/cgroup/pids/cgroup.procs');
  it.each<Isolation>(['chroot', 'pivot'])(
    `a pids limit stops forks and the container sits in its own cgroup (%s, cgroup ${v1 ? 'v1' : 'v2'})`,
    async (isolation) => {
      const r = await env.run(
        ['/bin/sh', '-c', 'cat /proc/self/cgroup; for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'],
        {
          isolation,
          resources: { pidsLimit: 4, memoryBytes: 256 * 1024 * 1024, cpus: 1 },
        },
      );
      const id = /tsbuild-[0-9a-f]{12}/.exec(r.stdout)?.[0];
      expect(id).toBeDefined();
      expect(r.stderr).toMatch(/fork|Resource temporarily unavailable/i);
      // the cgroup is gone afterwards
      const pidsLine = r.stdout.split('\n').find((l) => (v1 ? /:pids:/ : /^0::/).test(l))!;
      expect(pidsLine).toContain(id);
      const path = pidsLine.split(':')[2]!;
      expect(existsSync(join(v1 ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup', path))).toBe(false);
    },
  );
});

describe('concurrent containers', () => {
  it("another process's clean-up never drops the run dir while a container here holds it", async () => {
    await env.run(['/bin/true'], {}); // the run dir is a mount now
    const runDirMounted = (): boolean => mountsUnder(join(env.runDir, '..')).includes(env.runDir);
    expect(runDirMounted()).toBe(true);
    const runtime = fileURLToPath(new URL('../../dist/runtime/index.js', import.meta.url));
    const script = join(env.base, 'cleanup-other-process.mjs');
    await writeFile(
      script,
      `import { cleanupStaleMounts } from ${JSON.stringify(runtime)};\nawait cleanupStaleMounts(${JSON.stringify(env.runDir)});\n`,
    );
    const cleanupElsewhere = (): Promise<number | null> =>
      new Promise((resolve) => spawn(process.execPath, [script], { stdio: 'inherit' }).once('exit', resolve));
    // a container of this process that has taken its hold but not made its directory yet (the window where the
    // other process saw no container directory and dropped the run dir under it)
    const release = holdRunDir(env.runDir);
    try {
      expect(await cleanupElsewhere()).toBe(0);
      expect(runDirMounted()).toBe(true);
    } finally {
      release();
    }
    expect(await cleanupElsewhere()).toBe(0);
    expect(runDirMounted()).toBe(false);
  });

  it('run side by side, and cleanupStaleMounts leaves live ones alone', async () => {
    const runs = [0, 1, 2, 3].map((i) =>
      env.run(['/bin/sh', '-c', `sleep 0.3; echo $(hostname) > /tmp/me; cat /tmp/me`], {
        isolation: i === 3 ? 'pivot' : 'chroot',
        hostname: `c${i}`,
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    await cleanupStaleMounts(env.runDir);
    const results = await Promise.all(runs);
    expect(results.map((r) => [r.exitCode, r.stdout])).toEqual([0, 1, 2, 3].map((i) => [0, `c${i}\n`]));
    expect(mountsUnder(join(env.runDir, 'c'))).toEqual([]);
    expect(await readdir(join(env.runDir, 'c'))).toEqual([]);
  });
});
