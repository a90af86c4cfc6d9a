import { describe, expect, it } from 'vitest';
import { gitAuthFrom, gitEnv, isGitContext, parseGitSource, redact } from './git.js';

describe('isGitContext (docker build urlutil.IsGitURL)', () => {
  it.each([
    'https://host/org/repo.git',
    'https://host/org/repo.git#main:sub',
    'git://127.0.0.1/repo',
    'ssh://git@host/repo.git',
    'git@github.com:org/repo.git#v1',
    'github.com/org/repo',
  ])('%s is a repository', (a) => expect(isGitContext(a)).toBe(true));
  it.each(['.', 'dir', 'https://host/context.tar.gz', 'https://host/repo.git/x', '-', 'repo.git'])('%s is not', (a) =>
    expect(isGitContext(a)).toBe(false),
  );
});

describe('parseGitSource', () => {
  it('splits the fragment into ref and subdir', () => {
    expect(parseGitSource('https://h/r.git#v1:a/b/')).toEqual({ remote: 'https://h/r.git', ref: 'v1', subdir: 'a/b' });
    expect(parseGitSource('git@h:o/r.git#main')).toEqual({ remote: 'git@h:o/r.git', ref: 'main', subdir: undefined });
    expect(parseGitSource('https://h/r.git')).toEqual({ remote: 'https://h/r.git', ref: undefined, subdir: undefined });
    expect(parseGitSource('https://h/r.git#:docs')).toEqual({
      remote: 'https://h/r.git',
      ref: undefined,
      subdir: 'docs',
    });
  });
  it('keeps a subdir inside the repository and makes github.com/ an https URL', () => {
    expect(parseGitSource('https://h/r.git#main:../../etc').subdir).toBe('etc');
    expect(parseGitSource('github.com/o/r').remote).toBe('https://github.com/o/r');
  });
  it('refuses a ref that git would read as an option', () => {
    expect(() => parseGitSource('https://h/r.git#--upload-pack=x')).toThrow(/invalid Git ref/);
  });
});

describe('credentials', () => {
  it('never shows a password or token in a URL', () => {
    expect(redact('https://u:secret@h/r.git')).toBe('https://u:xxxxx@h/r.git');
    expect(redact('git@h:o/r.git')).toBe('git@h:o/r.git');
  });
  it('passes GIT_AUTH_TOKEN as an http header through the environment, scoped to the host', () => {
    const auth = gitAuthFrom(new Map([['GIT_AUTH_TOKEN', Buffer.from('s3cret\n')]]), 'https://h:8443/o/r.git');
    expect(auth).toEqual({ token: 's3cret' });
    const env = gitEnv('https://h:8443/o/r.git', { auth });
    const n = Number(env.GIT_CONFIG_COUNT);
    const pairs = Array.from({ length: n }, (_, i) => [env[`GIT_CONFIG_KEY_${i}`], env[`GIT_CONFIG_VALUE_${i}`]]);
    const basic = Buffer.from('x-access-token:s3cret').toString('base64');
    expect(pairs).toContainEqual(['http.https://h:8443/.extraheader', `Authorization: basic ${basic}`]);
    expect(pairs).toContainEqual(['protocol.file.allow', 'never']);
    expect(env.GIT_TERMINAL_PROMPT).toBe('0');
  });
  it('prefers the per-host secret, as BuildKit', () => {
    const s = new Map([
      ['GIT_AUTH_TOKEN', Buffer.from('any')],
      ['GIT_AUTH_TOKEN.h', Buffer.from('mine')],
    ]);
    expect(gitAuthFrom(s, 'https://h/r.git').token).toBe('mine');
    expect(gitAuthFrom(s, 'https://other/r.git').token).toBe('any');
  });
});
