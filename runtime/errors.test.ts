// runtime/'s errors share tsbuild's one base (oci/errors.ts): a stable code and a hint saying what to do.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TsbuildError } from '../oci/index.js';
import { capMask } from './caps.js';
import { CgroupError } from './cgroups.js';
import { ContainerSetupError, RuntimeError, unsupportedArch } from './errors.js';
import { HelperBuildError, HelperDirError } from './helper.js';
import { AT, LibcError, libcHint, O, openat } from './libc.js';
import { BindSourceError } from './mounts.js';
import { NetworkError } from './network.js';
import { RootPathError } from './paths.js';
import { createFileAt, RootEscapeError } from './root-fd.js';
import { resolveUserFrom, UserError } from './users.js';

const here = fileURLToPath(new URL('.', import.meta.url));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('nothing was thrown');
}

describe('runtime errors', () => {
  it('a failed libc call is a TsbuildError whose code is the errno name, as in Node, with a hint', () => {
    const e = thrown(() => openat(AT.FDCWD, '/nonexistent-tsbuild/x', O.RDONLY));
    expect(e).toBeInstanceOf(LibcError);
    expect(e).toBeInstanceOf(TsbuildError);
    const err = e as LibcError;
    expect([err.code, err.call, err.target, err.message]).toEqual([
      'ENOENT',
      'openat',
      '/nonexistent-tsbuild/x',
      'openat /nonexistent-tsbuild/x: ENOENT',
    ]);
    expect(err.hint).toContain('man 2 openat');
    // the errnos that say something about the host say what to do about it
    expect(libcHint('mount', 'EPERM')).toContain('root');
    expect(libcHint('mount_setattr', 'ENOSYS')).toContain('Linux 5.12');
    expect(libcHint('openat', 'ENOSPC', '/var/lib/tsbuild')).toContain('tsbuild prune');
  });

  it('every error class it throws has a code and a hint', () => {
    const user = thrown(() => resolveUserFrom('ghost', 'root:x:0:0::/root:/bin/sh\n', 'root:x:0:\n'));
    const errors: [unknown, string][] = [
      [user, 'USER_UNKNOWN'],
      [new RootEscapeError('/r', '/etc/x', 'is not inside the root'), 'ROOT_ESCAPE'],
      [new RootPathError('/r', '/etc/x', 'not a directory'), 'ROOT_PATH'],
      [new BindSourceError('/ctx', 'src', 'does not exist'), 'BIND_SOURCE'],
      [new CgroupError('/sys/fs/cgroup/x', 'EACCES'), 'CGROUP'],
      [new HelperBuildError('helper.c', 'no compiler'), 'HELPER_BUILD'],
      [
        new HelperDirError('/s/runtime', '/s', 'is owned by uid 1000, not root', 'run chown root /s'),
        'HELPER_DIR_UNSAFE',
      ],
      [new NetworkError('slirp4netns not found', 'NETWORK_SLIRP_MISSING'), 'NETWORK_SLIRP_MISSING'],
      [new NetworkError('start slirp4netns: exited (1)'), 'NETWORK'],
      [unsupportedArch('seccomp', 'riscv64'), 'ARCH_UNSUPPORTED'],
      [thrown(() => capMask(['NOT_A_CAP'])), 'CAP_UNKNOWN'],
      [thrown(() => createFileAt(AT.FDCWD, '..', 0o600)), 'BAD_NAME'],
      [new ContainerSetupError('c1', 'mount tree', new Error('EBUSY')), 'CONTAINER_SETUP'],
    ];
    for (const [e, code] of errors) {
      expect(e).toBeInstanceOf(TsbuildError);
      expect((e as TsbuildError).code).toBe(code);
      expect((e as TsbuildError).hint, code).toMatch(/\w{3}/);
    }
    expect(user).toBeInstanceOf(UserError);
    expect((user as UserError).message).toBe('user "ghost": no user "ghost" in /etc/passwd');
    expect(thrown(() => capMask(['NOT_A_CAP']))).toBeInstanceOf(RuntimeError);
  });

  it("a container that could not be set up passes on its cause's hint", () => {
    const cause = new UserError('ghost', 'no user "ghost" in /etc/passwd');
    const e = new ContainerSetupError('c1', 'resolve user', cause);
    expect(e.cause).toBe(cause);
    expect(e.hint).toBe(cause.hint);
    expect(e.message).toBe('container c1: resolve user: user "ghost": no user "ghost" in /etc/passwd');
  });

  it('no module throws a plain Error or declares an error class of its own base', () => {
    const files = readdirSync(here, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    );
    expect(files).toContain('run.ts');
    const offenders = files.flatMap((f) =>
      readFileSync(join(here, f), 'utf8')
        .split('\n')
        .filter((line) => /throw new Error\(|extends Error\b/.test(line))
        .map((line) => `${f}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
  });
});
