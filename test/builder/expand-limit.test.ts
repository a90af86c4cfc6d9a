// Variables that double themselves line by line (ARG, ENV, nested `${a:-${a}}`), whether written in the Buildfile or
// in a base image's ONBUILD triggers, stop at the expanded-word cap with a build error naming the line and the
// limit: no crash, no multi-megabyte message. The CLI runs with a small heap, so without the cap it dies quickly.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers/tsb.js';

const work = mkdtempSync(join(tmpdir(), 'tsbuild-expand-limit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function build(name: string, buildfile: string, args: string[] = []): { code: number; stdout: string; stderr: string } {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'Buildfile'), buildfile);
  const r = spawnSync(BIN, ['--root', join(work, 'store'), 'build', '--progress=plain', ...args, dir], {
    encoding: 'utf8',
    cwd: dir,
    // a heap this small dies within seconds on a doubling that nothing stops
    env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=192' },
    maxBuffer: 64 << 20,
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `FROM …`, then a0 (1 KiB) and 40 lines each doubling the one before through `form`. */
function doublingLines(keyword: 'ARG' | 'ENV', form: (prev: string) => string): string[] {
  const lines = [`${keyword} a0=${'x'.repeat(1024)}`];
  for (let i = 1; i <= 40; i++) lines.push(`${keyword} a${i}=${form(`a${i - 1}`)}`);
  return lines;
}

/** The cap's message, for the failing line `line` of `file`. */
function expectCapError(r: { code: number; stdout: string; stderr: string }, file: string, line: number): void {
  expect(r.stderr).not.toMatch(/heap out of memory|FATAL ERROR/);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/longer than 1048576 characters \(1 MiB\), the limit/);
  expect(r.stderr).toContain(`${file}:${line} |`);
  expect(r.stderr.length + r.stdout.length).toBeLessThan(64 << 10);
}

describe('expanded word cap through the CLI', () => {
  // a0 is 1 KiB: a11 would be 2 MiB, on the Buildfile's line 13 (FROM is line 1, a0 line 2)
  it('ARG doubling fails on the line that passes the limit', () => {
    const r = build(
      'arg',
      ['FROM scratch', ...doublingLines('ARG', (p) => `\${${p}}\${${p}}`), 'LABEL done=1', ''].join('\n'),
    );
    expectCapError(r, 'Buildfile', 13);
    expect(r.stderr).toContain('ARG a11=${a10}${a10}');
  });

  it('ENV doubling and the nested ${a:-${a}} form fail the same way', () => {
    const env = build('env', ['FROM scratch', ...doublingLines('ENV', (p) => `$${p}$${p}`), ''].join('\n'));
    expectCapError(env, 'Buildfile', 13);
    const nested = build(
      'nested',
      ['FROM scratch', ...doublingLines('ARG', (p) => `\${unset:-\${${p}}\${${p}:+\${${p}}}}`), ''].join('\n'),
    );
    expectCapError(nested, 'Buildfile', 13);
  });

  it("a base image's ONBUILD triggers hit the cap as the same Buildfile lines would", () => {
    // ONBUILD is not expanded where it is written: the base builds, and its triggers fire in the image built FROM it
    const triggers = doublingLines('ARG', (p) => `\${${p}}\${${p}}`);
    const base = build('onbuild-base', ['FROM scratch', ...triggers.map((t) => `ONBUILD ${t}`), ''].join('\n'), [
      '-t',
      'onbuild-bomb:1',
    ]);
    expect(base.code, base.stderr).toBe(0);
    const child = build('onbuild-child', 'FROM onbuild-bomb:1\nLABEL child=1\n');
    expect(child.stderr).not.toMatch(/heap out of memory|FATAL ERROR/);
    expect(child.code).toBe(1);
    expect(child.stderr).toMatch(/longer than 1048576 characters \(1 MiB\), the limit/);
    // the same step of the same instruction fails with the same reason as when the lines are the Buildfile's own
    const direct = build('onbuild-direct', ['FROM scratch', ...triggers, 'LABEL child=1', ''].join('\n'));
    const reason = (r: { stderr: string }): string | undefined =>
      /^error: (failed to build \[stage-0 13\/43\] ARG a11=.*)$/m.exec(r.stderr)?.[1];
    expect(reason(child)).toBeDefined();
    expect(reason(child)).toBe(reason(direct));
    expect(child.stderr.length + child.stdout.length).toBeLessThan(64 << 10);
  });
});
