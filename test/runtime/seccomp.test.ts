// Docker's default seccomp profile and a fresh session keyring, in both isolations: the attacks a RUN could make
// with system calls its capabilities do not cover (user namespaces, keyctl, personality, userfaultfd, vsock), and
// the everyday programs that must keep working, also as 32-bit i386 programs (Docker allows that ABI on x86_64).
import koffi from 'koffi';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeEnv, type Env } from './helpers.js';
import { i386Program } from './i386-program.js';
import { makeProbeLayer, probeResults } from './syscall-probe.js';

const EPERM = 'errno 1';
const ENOSYS = 'errno 38';

const libc = koffi.load('libc.so.6');
const addKey = libc.func(
  'long syscall(long nr, const char *type, const char *desc, const char *payload, size_t plen, int ring)',
);
const keyctlLong = libc.func('long syscall(long nr, int op, long a2, long a3, long a4)');
const [SYS_ADD_KEY, SYS_KEYCTL] = { x64: [248, 250], arm64: [217, 219] }[process.arch as 'x64' | 'arm64'];

let env: Env;
let probe: string;
const secret = `host-secret-${process.pid}`;
const keyName = `tsbuild-test-${process.pid}`;
let keyId = 0;
let hostSession = 0;

beforeAll(async () => {
  env = await makeEnv();
  probe = await makeProbeLayer(join(env.base, 'probe'));
  if (process.arch === 'x64') {
    await writeFile(join(probe, 'bin/probe32'), i386Program(), { mode: 0o755 });
    // On the host first, so that a kernel without CONFIG_IA32_EMULATION fails here and says so.
    try {
      execFileSync(join(probe, 'bin/probe32'), { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      throw new Error(
        `the i386 test program does not run on this host (kernel without CONFIG_IA32_EMULATION, or ia32_emulation=0): ${String(e)}`,
      );
    }
  }
  // The victim: a key in the host's session keyring, as a CI job's credentials would be.
  keyId = Number(addKey(SYS_ADD_KEY, 'user', keyName, secret, secret.length, -3 /* KEY_SPEC_SESSION_KEYRING */));
  expect(keyId).toBeGreaterThan(0);
  hostSession = Number(keyctlLong(SYS_KEYCTL, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0, 0));
});

afterAll(async () => {
  if (keyId > 0) keyctlLong(SYS_KEYCTL, 21 /* KEYCTL_INVALIDATE */, keyId, 0, 0);
  await env?.close();
});

describe.each(['chroot', 'pivot'] as const)('%s isolation', (isolation) => {
  const runProbe = async (words: string[], seccomp?: 'unconfined') => {
    const dirs = await env.dirs();
    const r = await env.run(['/bin/probe', ...words], {
      isolation,
      rootfs: { lowerdirs: [probe, env.lower], ...dirs },
      ...(seccomp ? { seccomp } : {}),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    return probeResults(r.stdout);
  };

  test("system calls outside Docker's default profile fail with EPERM", async () => {
    const r = await runProbe([
      'unshare-user',
      'unshare-mount',
      'mount',
      'personality',
      'userfaultfd',
      'socket-vsock',
      'kcmp',
      'keyctl-session',
      'clone3',
    ]);
    expect(r).toMatchObject({
      'unshare-user': EPERM,
      'unshare-mount': EPERM,
      mount: EPERM,
      personality: EPERM,
      userfaultfd: EPERM,
      'socket-vsock': EPERM,
      kcmp: EPERM,
      'keyctl-session': EPERM,
      clone3: ENOSYS, // so that libc falls back to clone, whose flags the filter can see
    });
  });

  test("a key planted in the host's session keyring cannot be read or found", async () => {
    const r = await runProbe([`keyctl-read=${keyId}`, `keyctl-search=${keyName}`]);
    expect(r['keyctl-read']).toBe(EPERM);
    expect(r['keyctl-search']).toBe(EPERM);
    expect(JSON.stringify(r)).not.toContain(secret);
  });

  test('the container joins a fresh session keyring (seen with the filter off)', async () => {
    const r = await runProbe(['keyctl-session', `keyctl-search=${keyName}`], 'unconfined');
    expect(r['keyctl-session']).toMatch(/^ok \d+$/);
    expect(r['keyctl-session']).not.toBe(`ok ${hostSession}`);
    expect(r['keyctl-search']).toBe('errno 126'); // ENOKEY: the host's keyring is not in the container's chain
  });

  // An i386 image (FROM i386/debian, --platform linux/386) runs natively on x86_64: Docker's profile allows its ABI
  // with the same names, so the filter must too, and still deny what it denies to x86_64 programs.
  test.runIf(process.arch === 'x64')(
    'an i386 program runs under the filter; its unshare and keyctl get EPERM',
    async () => {
      const run = async (seccomp?: 'unconfined') =>
        env.run(['/bin/probe32'], {
          isolation,
          rootfs: { lowerdirs: [probe, env.lower], ...(await env.dirs()) },
          ...(seccomp ? { seccomp } : {}),
        });
      const r = await run();
      expect([r.exitCode, r.signal, r.stdout]).toEqual([0, null, 'ok\n01\n01\n']); // write; unshare EPERM; keyctl EPERM
      // Without the filter keyctl succeeds: the EPERM above is the i386 branch's, not a missing capability.
      const unconfined = await run('unconfined');
      expect([unconfined.exitCode, unconfined.stdout.split('\n')[2]]).toEqual([0, 'ok']);
    },
  );

  test('everyday programs keep working under the filter', async () => {
    const dirs = await env.dirs();
    const script = [
      'set -e',
      'echo hello | tr a-z A-Z | cat',
      'sleep 0.2 & pid=$!',
      'ps -o pid | grep -qw $pid',
      'wait $pid',
      'mkdir -p /work/d && echo data > /work/d/f && cp /work/d/f /work/g && ln -s g /work/l && chmod 600 /work/g',
      'echo $(ls /work)',
      'id -u',
    ].join('\n');
    const r = await env.run(['/bin/sh', '-c', script], { isolation, rootfs: { lowerdirs: [env.lower], ...dirs } });
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe('HELLO\nd g l\n0\n');
  });
});
