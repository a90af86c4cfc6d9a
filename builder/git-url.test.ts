import { describe, expect, it } from 'vitest';
import { isGitSource } from './git-url.js';

describe('isGitSource (BuildKit gitutil rules for ADD)', () => {
  it.each([
    'https://host/repo.git#main',
    'https://github.com/moby/buildkit.git',
    'https://github.com/moby/buildkit.git#v0.12:frontend/dockerfile',
    'HTTPS://host/r.git',
    'http://host/repo.git',
    'git://host/repo',
    'ssh://git@host/repo',
    'git@github.com:moby/buildkit.git',
    'git@github.com:moby/buildkit.git#main:docs',
  ])('%s is a Git repository', (src) => {
    expect(isGitSource(src)).toBe(true);
  });

  it.each([
    'https://host/file.tar.gz',
    'https://host/repo.git/file.txt',
    'https://host/x?y=.git',
    'ftp://host/repo.git',
    'github.com/moby/buildkit',
    './repo.git',
    '../repo.git',
    'repo.git',
    'dir/file:1.txt',
    'src',
  ])('%s is not', (src) => {
    expect(isGitSource(src)).toBe(false);
  });
});
