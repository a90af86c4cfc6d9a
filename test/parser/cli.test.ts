// `tsbuild parse` as users run it: bin/tsbuild, a real file or stdin, the dump, --json, errors and exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tsbuild');
const dir = mkdtempSync(join(tmpdir(), 'tsbuild-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tsbuild(args: string[], input?: string) {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('tsbuild parse', () => {
  const good = file('Buildfile', 'FROM alpine AS base\nCOPY --chmod=755 <<EOF /usr/bin/hi\necho hi\nEOF\nCMD ["hi"]\n');

  it('prints one dump line per instruction', () => {
    const r = tsbuild(['parse', good]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('(from "alpine" "AS" "base")\n(copy ["--chmod=755"] "<<EOF" "/usr/bin/hi")\n(cmd "hi")\n');
  });

  it('prints the JSON contract with --json', () => {
    const r = tsbuild(['parse', '--json', good]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { directives: unknown; instructions: Record<string, unknown>[] };
    expect(doc.directives).toMatchObject({ escape: '\\', syntax: null });
    expect(doc.instructions).toHaveLength(3);
    expect(doc.instructions[1]).toMatchObject({
      keyword: 'COPY',
      line: 2,
      endLine: 4,
      flags: ['--chmod=755'],
      args: ['<<EOF', '/usr/bin/hi'],
      json: false,
      heredocs: [{ name: 'EOF', content: 'echo hi\n', expand: true, chomp: false }],
      onbuild: null,
    });
    expect(doc.instructions[2]).toMatchObject({ keyword: 'CMD', json: true, args: ['hi'] });
  });

  it('reads stdin for -', () => {
    const r = tsbuild(['parse', '-'], 'FROM scratch\nONBUILD RUN make\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('(from "scratch")\n(onbuild (run "make"))\n');
  });

  it('prints errors like a compiler and exits 1', () => {
    const bad = file('Bad', 'FROM alpine\nWORKDIR --foo /x\n');
    const r = tsbuild(['parse', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${bad}:2:9: unknown flag: --foo`);
    expect(r.stderr).toContain('WORKDIR --foo /x\n        ^');
  });

  it('exits 1 for a file that does not exist', () => {
    const r = tsbuild(['parse', join(dir, 'missing')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such file/);
  });
});
