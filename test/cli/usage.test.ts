// The CLI's own usage rules, through the real bin/tsbuild: unknown commands and flags exit 2 with a clear message;
// --help lists every subcommand; --version prints the package version and the Node running it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));
const run = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8', cwd: '/tmp' });

describe('tsbuild usage', () => {
  it('an unknown command exits 2 and names it (build being the default command does not swallow it)', () => {
    const r = run('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('a mistyped command suggests the nearest one, after global options too', () => {
    const r = run('psuh');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'psuh'");
    expect(r.stderr).toContain('did you mean push?');
    const g = run('--root', '/tmp/tsbuild-no-such-root', 'imgaes');
    expect(g.status).toBe(2);
    expect(g.stderr).toContain("unknown command 'imgaes'");
    expect(g.stderr).toContain('did you mean images?');
    // nothing near: no suggestion
    expect(run('frobnicate').stderr).not.toContain('did you mean');
  });

  it('a context directory that does not exist is named as such, not as a missing Buildfile', () => {
    for (const dir of ['./no-such-dir-here', '/tmp/tsbuild-no-such-dir/x']) {
      const r = run('build', dir);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`context directory "${dir}" does not exist`);
      expect(r.stderr).not.toContain('no Buildfile');
    }
  });

  it('an invalid -t fails before the build runs, naming the tag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-usage-'));
    try {
      mkdirSync(join(dir, 'ctx'));
      writeFileSync(join(dir, 'ctx', 'Buildfile'), 'FROM scratch\nLABEL a=1\n');
      const r = run('--root', join(dir, 'root'), 'build', '--progress=json', '-t', 'Bad Tag', join(dir, 'ctx'));
      expect(r.status, r.stderr).toBe(2);
      const events = r.stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; message?: string });
      // no build started: the only event is the error
      expect(events.map((e) => e.type)).toEqual(['error']);
      expect(events[0]!.message).toContain('invalid tag "Bad Tag"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown flag exits 2 and names it', () => {
    const r = run('images', '--frob');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--frob'");
  });

  it('--help lists every subcommand and --version prints the version', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    for (const c of [
      'build',
      'parse',
      'run',
      'pull',
      'push',
      'login',
      'logout',
      'images',
      'inspect',
      'rmi',
      'prune',
      'save',
      'load',
      'import',
      'store',
      'why-rebuilt',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const v = run('--version');
    expect(v.status).toBe(0);
    // and the Node running it (CI checks that its Node 24 run really ran on 24)
    expect(v.stdout.trim()).toBe(`${pkg.version} (node ${process.version}, ${process.platform}/${process.arch})`);
  });
});
