// readCheckout against the system's git on real repositories: where it answers, its answer is git's; where the
// layout is one git interprets further, it gives way (undefined) so that git is asked.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckout } from './git-checkout.js';

const base = mkdtempSync(join(tmpdir(), 'tsbuild-git-checkout-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
// no user or system config of this machine's, so the tests see only what they write
const home = join(base, 'home');
mkdirSync(home);
const env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
const gitEnv = { ...env, GIT_CONFIG_NOSYSTEM: '1' };

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { env: gitEnv, encoding: 'utf8' }).trim();
}
function gitOr(dir: string, ...args: string[]): string | undefined {
  try {
    return git(dir, ...args) || undefined;
  } catch {
    return undefined;
  }
}
/** What git says of `dir`: the two questions git-source.ts would ask. */
function fromGit(dir: string): { commit?: string; remote?: string } {
  const commit = gitOr(dir, 'rev-parse', '--verify', '-q', 'HEAD');
  const remote = gitOr(dir, 'remote', 'get-url', 'origin');
  return { ...(commit ? { commit } : {}), ...(remote ? { remote } : {}) };
}
function repo(name: string, files: Record<string, string> = { 'a.txt': 'a' }): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.email', 't@example.com');
  git(dir, 'config', 'user.name', 't');
  for (const [f, t] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), t);
  }
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'x');
  return dir;
}
// the env readCheckout is given: none of the machine's GIT_* variables
const read = (dir: string): ReturnType<typeof readCheckout> => readCheckout(dir, env);

describe('readCheckout', () => {
  it('a plain checkout with an origin, from its top and from a subdirectory', () => {
    const dir = repo('plain', { 'sub/deeper/f': 'x' });
    git(dir, 'remote', 'add', 'origin', 'https://git.example.com/team/app.git');
    expect(read(dir)).toEqual(fromGit(dir));
    expect(read(join(dir, 'sub', 'deeper'))).toEqual(fromGit(join(dir, 'sub', 'deeper')));
    expect(read(dir)!.remote).toBe('https://git.example.com/team/app.git');
  });

  it('packed refs, a detached HEAD, no origin, an unborn branch', () => {
    const dir = repo('packed');
    git(dir, 'pack-refs', '--all');
    expect(read(dir)).toEqual(fromGit(dir));
    expect(read(dir)!.commit).toMatch(/^[0-9a-f]{40}$/);
    git(dir, 'checkout', '-q', '--detach');
    expect(read(dir)).toEqual(fromGit(dir));
    git(dir, 'checkout', '-q', '--orphan', 'empty');
    expect(read(dir)).toEqual(fromGit(dir));
    expect(read(dir)).toEqual({});
  });

  it('a linked worktree (.git is a file naming the git directory)', () => {
    const dir = repo('main-wt');
    git(dir, 'remote', 'add', 'origin', 'git@example.com:team/app.git');
    git(dir, 'worktree', 'add', '-q', join(base, 'linked-wt'), '-b', 'other');
    expect(read(join(base, 'linked-wt'))).toEqual(fromGit(join(base, 'linked-wt')));
    expect(read(join(base, 'linked-wt'))!.remote).toBe('git@example.com:team/app.git');
  });

  it('not a checkout: nothing', () => {
    const dir = join(base, 'none', 'ctx');
    mkdirSync(dir, { recursive: true });
    // (the temporary directory's parents hold no repository on a test machine)
    expect(read(dir)).toEqual(fromGit(dir));
  });

  it('gives way to git where git would interpret more', () => {
    const dir = repo('rewrite');
    git(dir, 'remote', 'add', 'origin', 'gh:team/app');
    // url.<base>.insteadOf rewrites what get-url prints: in the repository's config or the user's
    git(dir, 'config', 'url.https://github.com/.insteadOf', 'gh:');
    expect(read(dir)).toBeUndefined();
    expect(fromGit(dir).remote).toBe('https://github.com/team/app');
    git(dir, 'config', '--unset', 'url.https://github.com/.insteadOf');
    expect(read(dir)).toEqual(fromGit(dir));
    writeFileSync(join(home, '.gitconfig'), '[url "https://github.com/"]\n\tinsteadOf = gh:\n');
    try {
      expect(read(dir)).toBeUndefined();
    } finally {
      rmSync(join(home, '.gitconfig'));
    }
    // an include, a GIT_* variable, a value git would unquote
    git(dir, 'config', 'include.path', 'other.cfg');
    expect(read(dir)).toBeUndefined();
    git(dir, 'config', '--unset', 'include.path');
    expect(readCheckout(dir, { ...env, GIT_DIR: join(dir, '.git') })).toBeUndefined();
    expect(readCheckout(dir, { ...env, GIT_SSL_CAINFO: '/etc/ssl/certs/ca-certificates.crt' })).toEqual(fromGit(dir));
    git(dir, 'remote', 'set-url', 'origin', 'https://example.com/a b#c');
    expect(read(dir)).toBeUndefined();
  });

  it('does not follow a symbolic link among the files it reads: git is asked', () => {
    const dir = repo('linked');
    git(dir, 'remote', 'add', 'origin', 'https://example.com/app.git');
    const ref = join(dir, '.git', 'refs', 'heads', 'main');
    const outside = join(base, 'outside-ref');
    writeFileSync(outside, `${git(dir, 'rev-parse', 'HEAD')}\n`);
    rmSync(ref);
    symlinkSync(outside, ref);
    expect(read(dir)).toBeUndefined();
    rmSync(ref);
    writeFileSync(ref, readFileSync(outside));
    expect(read(dir)).toEqual(fromGit(dir));
    const config = join(dir, '.git', 'config');
    renameSync(config, join(base, 'outside-config'));
    symlinkSync(join(base, 'outside-config'), config);
    expect(read(dir)).toBeUndefined();
  });

  it('a repository another user owns is left to git (its safe.directory check)', () => {
    const dir = repo('foreign');
    execFileSync('chown', ['-R', '12345:12345', dir]);
    expect(read(dir)).toBeUndefined();
  });
});
