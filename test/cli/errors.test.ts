// Exit codes and error text: 2 only for usage errors, 1 for everything else; stacks only with --debug.
import { describe, expect, it } from 'vitest';
import { exitCodeFor, formatError, InterruptedError } from '../../cli/errors.js';
import { UsageError } from '../../cli/context.js';
import { BuildError } from '../../builder/errors.js';
import { EntitlementError } from '../../builder/entitlements.js';
import { TsbuildError } from '../../oci/index.js';
import { RegistryError } from '../../registry-client/errors.js';
import { StoreError } from '../../store/errors.js';
import { LibcError, UserError } from '../../runtime/index.js';

describe('cli errors', () => {
  it('a RUN that exited 2 fails the build with 1, not the usage code', () => {
    const step = { stage: '0', index: 2, total: 3, instruction: 'RUN exit 2', line: 2 };
    const err = new BuildError('process "/bin/sh -c exit 2" exited with code 2', {
      file: 'Buildfile',
      step,
      source: 'RUN exit 2',
      exitCode: 2,
    });
    expect(exitCodeFor(err)).toBe(1);
    expect(formatError(err, false)).toBe(
      'error: failed to build [0 2/3] RUN exit 2: process "/bin/sh -c exit 2" exited with code 2\n  Buildfile:2 | RUN exit 2',
    );
  });

  it('usage errors exit 2', () => {
    expect(exitCodeFor(new UsageError('--progress must be one of auto, tty, plain, json, quiet'))).toBe(2);
    expect(exitCodeFor(Object.assign(new Error('x'), { code: 'commander.unknownOption' }))).toBe(2);
    expect(exitCodeFor(new Error('registry said no'))).toBe(1);
    expect(exitCodeFor('a string')).toBe(1);
  });

  it("exit codes follow the class, not the name: a part's usage error exits 2, a look-alike name does not", () => {
    expect(exitCodeFor(new EntitlementError('--allow network.none is not supported'))).toBe(2);
    expect(exitCodeFor(Object.assign(new Error('x'), { name: 'UsageError' }))).toBe(1);
  });

  it("the parts' errors share one base with a code and a hint", () => {
    const reg = new RegistryError('denied', { registry: 'r.example', hint: 'run `tsbuild login r.example`' });
    expect(reg).toBeInstanceOf(TsbuildError);
    expect([reg.code, reg.hint]).toEqual(['REGISTRY', 'run `tsbuild login r.example`']);
    expect(new StoreError('gone').code).toBe('STORE');
    expect(new BuildError('failed', { file: 'Buildfile', hint: 'free space' }).hint).toBe('free space');
  });

  it('a runtime error exits 1 and prints its hint', () => {
    const user = new UserError('ghost', 'no user "ghost" in /etc/passwd');
    expect(exitCodeFor(user)).toBe(1);
    expect(formatError(user, false)).toBe(`error: user "ghost": no user "ghost" in /etc/passwd\nhint: ${user.hint}`);
    const refused = new LibcError('mount', 1, '/run/tsbuild');
    expect(exitCodeFor(refused)).toBe(1);
    expect(formatError(refused, false)).toContain('\nhint: mount was refused: RUN steps need root');
  });

  it('an interrupted build exits as a shell reports the signal: 130 for Ctrl-C, 143 for SIGTERM', () => {
    expect(exitCodeFor(new InterruptedError('SIGINT'))).toBe(130);
    expect(exitCodeFor(new InterruptedError('SIGTERM'))).toBe(143);
    expect(formatError(new InterruptedError('SIGINT'), false)).toBe('error: interrupted (SIGINT)');
  });

  it('prints the stack and its causes only with --debug', () => {
    const err = new Error('pull failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:5000') });
    expect(formatError(err, false)).toBe('error: pull failed');
    const dbg = formatError(err, true);
    expect(dbg).toMatch(/^error: pull failed\nError: pull failed\n +at /);
    expect(dbg).toContain('caused by: connect ECONNREFUSED 127.0.0.1:5000');
  });
});
