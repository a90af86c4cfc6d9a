// The CLI's own usage rules, through the real bin/tsbuild: unknown commands and flags exit 2 with a clear message;
// --help lists every subcommand; --version prints the package version and the Node running it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
