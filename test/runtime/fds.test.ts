// Inherited file descriptors (runc CVE-2024-21626 class): tsbuild itself may hold a directory fd without
// close-on-exec (a library's, a caller's); the RUN must not receive it, in either isolation, or fchdir through it
// leads out of the root onto the host.
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clearCloexec } from '../../runtime/libc.js';
import { makeEnv, type Env } from './helpers.js';
import { makeProbeLayer, probeResults } from './syscall-probe.js';

let env: Env;
let probe: string;
let leaked = -1;
const secret = `victim-${process.pid}`;

beforeAll(async () => {
  env = await makeEnv();
  probe = await makeProbeLayer(join(env.base, 'probe'));
  const victim = join(env.base, 'victim');
  mkdirSync(victim);
  writeFileSync(join(victim, 'secret'), secret);
  // The hostile situation: a host directory open in tsbuild without FD_CLOEXEC while containers start.
  leaked = openSync(victim, 'r');
  clearCloexec(leaked);
});

afterAll(async () => {
  if (leaked >= 0) closeSync(leaked);
  await env?.close();
});

describe.each(['chroot', 'pivot'] as const)('%s isolation', (isolation) => {
  test('the RUN sees only fds 0, 1 and 2 (and what it opens itself)', async () => {
    const r = await env.run(['/bin/ls', '/proc/self/fd'], { isolation });
    expect(r.exitCode, r.stderr).toBe(0);
    const fds = r.stdout
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => a - b);
    expect(fds).not.toContain(leaked);
    // ls's own fd on /proc/self/fd is the only one beyond stdio
    expect(fds.filter((fd) => fd > 2).length).toBeLessThanOrEqual(1);
    expect(fds.slice(0, 3)).toEqual([0, 1, 2]);
  });

  test('fchdir through an inherited fd fails and the host file stays unread', async () => {
    const dirs = await env.dirs();
    const r = await env.run(['/bin/probe', `fchdir=${leaked}:secret`], {
      isolation,
      rootfs: { lowerdirs: [probe, env.lower], ...dirs },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(probeResults(r.stdout).fchdir).toBe('errno 9'); // EBADF
    expect(r.stdout).not.toContain(secret);
  });
});
