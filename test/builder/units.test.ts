// Pure helpers of the builder: path resolution inside a root, Go-style wildcards, instruction flags, cache keys,
// config helpers, lowerdir de-duplication, and the Buildfile display of instructions.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanAbs, componentMatcher, secureResolve } from '../../builder/fsutil.js';
import { parseCsv } from '../../builder/flags.js';
import { FlagError, parseFlags } from '../../parser/index.js';
import { cacheKey } from '../../builder/cache.js';
import { getEnv, goSlice, setEnv } from '../../builder/image-config.js';
import { dedupeLowerdirs } from '../../builder/steps/common.js';
import { displayInstruction } from '../../builder/stage.js';
import { explainMiss } from '../../builder/reasons.js';
import { parseBuildfile } from '../../parser/parse.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tsbuild-units-'));
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await symlink('usr/bin', join(root, 'bin'));
  await symlink('/etc', join(root, 'usr/etc-link'));
  await symlink('../../../../outside', join(root, 'usr/escape'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('secureResolve', () => {
  it('follows symlinks inside the root, absolute targets from the root, and never above it', async () => {
    expect(await secureResolve(root, '/bin/sh')).toBe('/usr/bin/sh');
    expect(await secureResolve(root, '/usr/etc-link/passwd')).toBe('/etc/passwd');
    expect(await secureResolve(root, '/usr/escape/x')).toBe('/outside/x');
    expect(await secureResolve(root, '/bin', false)).toBe('/bin');
    expect(cleanAbs('../../x/./y/')).toBe('/x/y');
  });
});

describe('componentMatcher', () => {
  it('matches one path component as Go filepath.Match does', () => {
    expect(componentMatcher('*.txt').test('a.txt')).toBe(true);
    expect(componentMatcher('*.txt').test('dir/a.txt')).toBe(false);
    expect(componentMatcher('file?.c').test('file1.c')).toBe(true);
    expect(componentMatcher('[ab]*').test('beta')).toBe(true);
    expect(componentMatcher('[^ab]*').test('beta')).toBe(false);
    expect(componentMatcher('\\*').test('*')).toBe(true);
  });
});

describe('flags', () => {
  const ins = (flags: string[]) => ({
    ...parseBuildfile('FROM x\nCOPY a b\n', 'Buildfile', { validate: false }).instructions[1]!,
    flags,
  });
  it('parses values, repeats and booleans, and rejects unknown flags', () => {
    const f = parseFlags(ins(['--from=build', '--exclude=*.md', '--exclude=*.log', '--link']), [
      'from',
      'exclude',
      'link',
      'chown',
    ]);
    expect(f.get('from')).toBe('build');
    expect(f.all('exclude')).toEqual(['*.md', '*.log']);
    expect(f.bool('link')).toBe(true);
    expect(f.get('chown')).toBeUndefined();
    expect(() => parseFlags(ins(['--frm=x']), ['from'])).toThrow(FlagError);
  });
  it('splits mount specs', () => {
    expect(parseCsv('type=cache,target=/root/.cache,ro')).toEqual({
      type: 'cache',
      target: '/root/.cache',
      ro: 'true',
    });
  });
});

describe('cache keys and config helpers', () => {
  it('keys depend on the parent and on every part, and on nothing else', () => {
    const a = cacheKey('p', ['RUN', ['sh', '-c', 'x']]);
    expect(cacheKey('p', ['RUN', ['sh', '-c', 'x']])).toBe(a);
    expect(cacheKey('q', ['RUN', ['sh', '-c', 'x']])).not.toBe(a);
    expect(cacheKey('p', ['RUN', ['sh', '-c', 'y']])).not.toBe(a);
  });
  it('edits Docker env lists', () => {
    const env = setEnv(setEnv(['PATH=/bin'], 'A', '1'), 'PATH', '/usr/bin');
    expect(env).toEqual(['PATH=/usr/bin', 'A=1']);
    expect(getEnv(env, 'A')).toBe('1');
    expect(goSlice(['cat', '/x y'])).toBe('["cat" "/x y"]');
  });
  it('keeps only the top-most occurrence of a repeated lowerdir', () => {
    expect(dedupeLowerdirs(['/a', '/b', '/a', '/c'])).toEqual(['/b', '/a', '/c']);
  });
});

describe('display and miss reasons', () => {
  it('shows an instruction on one line', () => {
    const [, run] = parseBuildfile(
      'FROM x\nRUN apt-get update \\\n    && apt-get install -y hello\n',
      'Buildfile',
    ).instructions;
    expect(displayInstruction(run!)).toBe('RUN apt-get update && apt-get install -y hello');
  });
  it('names the input that changed', () => {
    const before = { instruction: 'RUN x', args: { V: '1' }, env: { A: 'a' }, files: { 'a.txt': '1' } };
    expect(explainMiss({ ...before, files: { 'a.txt': '2' } }, before, undefined, undefined)).toBe(
      'file changed: a.txt',
    );
    expect(explainMiss({ ...before, args: { V: '2' } }, before, undefined, undefined)).toBe('build arg changed: V');
    expect(explainMiss({ ...before, env: { A: 'b' } }, before, undefined, undefined)).toBe('env changed: A');
    expect(explainMiss({ ...before, instruction: 'RUN y' }, before, undefined, undefined)).toBe('instruction changed');
    expect(explainMiss(before, undefined, undefined, undefined)).toBe('no cache record');
    expect(explainMiss(before, before, 'img@1', 'img@2')).toBe('base image changed: img@2');
  });
});
