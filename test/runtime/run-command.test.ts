// `tsbuild run`'s choice of process from an image config (Docker's rules for Entrypoint, Cmd, Env, WorkingDir, User).
import { describe, expect, it } from 'vitest';
import { imageProcess } from '../../cli/commands/run.js';

const base = { env: [] as string[] };

describe('imageProcess', () => {
  it("runs Entrypoint + Cmd with the image's Env, WorkingDir and User", () => {
    expect(
      imageProcess(
        { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'], Env: ['A=1'], WorkingDir: '/app', User: 'nobody' },
        base,
        [],
      ),
    ).toEqual({
      args: ['/bin/sh', '-c', 'echo hi'],
      env: ['A=1'],
      cwd: '/app',
      user: 'nobody',
    });
  });
  it('a command line replaces Cmd but keeps Entrypoint; options override Env, WorkingDir and User', () => {
    const p = imageProcess(
      { Entrypoint: ['/entry'], Cmd: ['default'], Env: ['A=1', 'B=2'], WorkingDir: '/app', User: 'nobody' },
      { env: ['B=3', 'C=4'], workdir: '/w', user: '0:0' },
      ['mine'],
    );
    expect(p).toEqual({ args: ['/entry', 'mine'], env: ['A=1', 'B=3', 'C=4'], cwd: '/w', user: '0:0' });
  });
  it("--entrypoint replaces Entrypoint and drops the image's Cmd", () => {
    expect(imageProcess({ Entrypoint: ['/entry'], Cmd: ['x'] }, { ...base, entrypoint: '/bin/ls' }, []).args).toEqual([
      '/bin/ls',
    ]);
  });
  it('refuses an image without a command when none is given', () => {
    expect(() => imageProcess({}, base, [])).toThrow(/no command/);
  });
});
