// Hostile or merely huge Buildfiles, through the CLI as a user runs it: deep nesting is refused with the line named
// (no stack overflow), an error never echoes megabytes of source back, a heredoc too long for an argument still
// runs (it reaches the shell as a file), and 200,000 ENV lines build in reasonable time.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from './helpers/env.js';
import { BIN } from './helpers/tsb.js';

let env: BuildTestEnv;
beforeAll(async () => {
  env = await makeBuildEnv('bad-input');
}, 180_000);
afterAll(() => closeBuildEnv(env ?? {}));

/** Writes `buildfile` into a fresh context dir `name` and builds it (plain progress). */
async function build(
  name: string,
  buildfile: string,
  args: string[] = [],
  progress = 'plain',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = join(env.work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  return env.tsb(['build', `--progress=${progress}`, ...args, dir]);
}

const LIMIT = 64 << 10;

/** `${a:-${a:-…x…}}`, `depth` levels. */
function nestedWord(depth: number): string {
  return '${a:-'.repeat(depth) + 'x' + '}'.repeat(depth);
}

describe('deep nesting', () => {
  it('a 10,000-deep ${a:-${a:-…}} is refused with the limit and the line, not a stack overflow', async () => {
    const r = await build('nest', `FROM scratch\nLABEL ok=1\nENV b=${nestedWord(10_000)}\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/Maximum call stack/);
    expect(r.stderr).toMatch(/nested more than 100 levels deep/);
    expect(r.stderr).toContain('Buildfile:3 |');
    expect(r.stderr.length + r.stdout.length).toBeLessThan(LIMIT);
  });

  it('a 100-deep word still builds', async () => {
    const r = await build('nest-ok', `FROM scratch\nENV b=${nestedWord(100)}\n`, ['-t', 'nest-ok']);
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
  });

  it.each([
    [
      'an exec form nested 200,000 deep',
      `FROM scratch\nRUN ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`,
      /Buildfile:2:\d+: the JSON array is nested more than 100 levels deep/,
    ],
    [
      'an object nested 100,000 deep in an exec form',
      `FROM scratch\nCMD ["a", ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}]\n`,
      /Buildfile:2:\d+: the JSON array is nested more than 100 levels deep/,
    ],
    [
      'ONBUILD chained 20,000 times',
      `FROM scratch\n${'ONBUILD '.repeat(20_000)}RUN x\n`,
      /Buildfile:2:\d+: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed/,
    ],
  ])('%s is a Buildfile error with its line, not a stack overflow', async (name, text, message) => {
    const r = await build(`parse-${name.length}`, text);
    expect(r.stderr).not.toMatch(/Maximum call stack/);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(1);
    expect(r.stderr.length + r.stdout.length).toBeLessThan(LIMIT);
  });
});

/** A heredoc body of `n` numbered lines (each a shell no-op). */
function lines(n: number): string {
  return Array.from({ length: n }, (_, i) => `: line ${i}`).join('\n');
}

describe('huge heredocs', () => {
  it('a failing RUN with a 200,000-line heredoc shows the first lines and a count, not the whole script', async () => {
    const r = await build('heredoc-fail', `FROM busybox\nRUN <<EOF\n${lines(200_000)}\nexit 3\nEOF\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exited with code 3/);
    expect(r.stderr).toContain('Buildfile:2 | RUN <<EOF');
    expect(r.stderr).toMatch(/… \(\d+ more lines\)/);
    expect(r.stderr.length + r.stdout.length).toBeLessThan(LIMIT);
  }, 120_000);

  it('a heredoc script longer than an argument may be runs (a file for the shell, not argv: no E2BIG)', async () => {
    const big = `FROM busybox\nRUN <<EOF\n${lines(200_000)}\necho "ran as \${0##*/}" > /ran\nEOF\nRUN cat <<EOF > /big\n${lines(50_000)}\nEOF\nRUN test "$(wc -l < /big)" -eq 50000 && cat /ran\n`;
    const r = await build('heredoc-big', big, ['-t', 'heredoc-big']);
    expect(r.stderr).not.toMatch(/E2BIG|argument list too long/i);
    expect(r.code).toBe(0);
    // sourced by the build's shell, as the inline script was: $0 is still the shell
    expect(r.stderr).toContain('ran as sh');
    expect(r.stderr.length + r.stdout.length).toBeLessThan(LIMIT);
  }, 300_000);

  it('a heredoc script with a shebang runs as a file under its interpreter, as BuildKit runs it', async () => {
    // busybox awk as the interpreter: under sh -c, the awk program below would be a shell syntax error
    const r = await build(
      'heredoc-shebang',
      `FROM busybox\nRUN <<EOF\n#!/bin/awk -f\nBEGIN { print "ran by awk as " ARGV[0] > "/dev/stderr"; exit 0 }\nEOF\n`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('ran by awk');
  }, 120_000);
});

describe('many ENV lines', () => {
  it('200,000 ENV lines build (the per-instruction work does not grow with the number of variables)', async () => {
    const text = ['FROM scratch', ...Array.from({ length: 200_000 }, (_, i) => `ENV V${i}=${i}`), ''].join('\n');
    const r = await build('env-many', text, ['-t', 'env-many'], 'quiet');
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    // into a file: 40 MB of JSON on a pipe is cut short when the CLI exits (see the report of issue 21)
    const out = join(env.work, 'env-many.json');
    const fd = openSync(out, 'w');
    try {
      const inspect = spawnSync(BIN, ['--root', env.root, 'inspect', 'env-many'], { stdio: ['ignore', fd, 'pipe'] });
      expect(inspect.status).toBe(0);
    } finally {
      closeSync(fd);
    }
    const config = (JSON.parse(readFileSync(out, 'utf8')) as { config: { config: { Env: string[] } } }).config.config;
    expect(config.Env).toHaveLength(200_001);
    expect(config.Env.at(-1)).toBe('V199999=199999');
  }, 300_000);
});
