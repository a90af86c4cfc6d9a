// The README's flag table and `tsbuild build` agree: every flag marked "same" (or tsbuild's own) is an option of
// the build command, and every flag marked "refused" fails with exit code 2 and a message naming it. Its `-o` table
// lists exactly the output types and keys the parser accepts (builder/output-spec.ts OUTPUT_KEYS).
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OUTPUT_KEYS } from '../../builder/output-spec.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = `${repo}/bin/tsbuild`;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function tableRows(): { docker: string; tsbuild: string }[] {
  const md = readFileSync(`${repo}/README.md`, 'utf8');
  const start = md.indexOf('| docker build | tsbuild build |');
  expect(start).toBeGreaterThan(0);
  const rows: { docker: string; tsbuild: string }[] = [];
  for (const line of md.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .replace(/\\\|/g, '/')
      .split('|')
      .map((c) => c.trim());
    rows.push({ docker: cells[1]!, tsbuild: cells[2]! });
  }
  return rows;
}

const flagsIn = (cell: string) => [...cell.matchAll(/`(-\w, )?(--[a-z][a-z-]*)/g)].map((m) => m[2]!);

describe('README flag table', () => {
  it('every flag it says tsbuild has is an option of `tsbuild build`', async () => {
    const help = (await run(['build', '--help'])).stdout;
    const claimed = tableRows().flatMap((r) =>
      r.tsbuild === 'same' ? flagsIn(r.docker) : r.tsbuild !== 'refused' ? flagsIn(r.tsbuild) : [],
    );
    expect(claimed.length).toBeGreaterThan(15);
    for (const f of new Set(claimed)) expect(help, f).toMatch(new RegExp(`(^|[ ,])${f}( |$)`, 'm'));
  });

  it('every flag it says is refused fails with exit code 2, naming the flag', async () => {
    const refused = tableRows()
      .filter((r) => r.tsbuild === 'refused')
      .flatMap((r) => flagsIn(r.docker));
    expect(refused.length).toBeGreaterThan(5);
    const help = (await run(['build', '--help'])).stdout;
    for (const f of refused) {
      // Flags that take a value get one; boolean ones are given alone.
      const r = await run([
        'build',
        f,
        ...(['--squash', '--compress', '--load'].includes(f) ? [] : ['x']),
        '/nonexistent-context',
      ]);
      expect(r.code, `${f}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`${f} is not supported`);
      expect(help).not.toMatch(new RegExp(`^\\s+${f} `, 'm'));
    }
  });
});

/** The README's `-o` table: output type → the keys it lists. */
function outputRows(): Map<string, string[]> {
  const md = readFileSync(`${repo}/README.md`, 'utf8');
  const start = md.indexOf('| output type | keys |');
  expect(start).toBeGreaterThan(0);
  const rows = new Map<string, string[]>();
  for (const line of md.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    const type = /^`([a-z]+)`$/.exec(cells[1]!)?.[1];
    expect(type, line).toBeDefined();
    rows.set(type!, [...cells[2]!.matchAll(/`([a-z][a-z0-9.-]*)=`/g)].map((m) => m[1]!).sort());
  }
  return rows;
}

describe('README -o table', () => {
  it('lists every output type the parser has, with exactly its keys', () => {
    const rows = outputRows();
    expect([...rows.keys()].sort()).toEqual(Object.keys(OUTPUT_KEYS).sort());
    for (const [type, keys] of rows) {
      expect(keys, `type=${type}`).toEqual(Object.keys(OUTPUT_KEYS[type as keyof typeof OUTPUT_KEYS]).sort());
    }
  });

  it('a key the table does not list for a type is refused by the CLI, exit code 2, naming key and type', async () => {
    for (const [type, keys] of outputRows()) {
      const other = ['dest', 'name', 'push'].find((k) => !keys.includes(k)) ?? 'compression';
      const r = await run(['build', '-o', `type=${type},${other}=x`, '/nonexistent-context']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${other}= is not supported for type=${type}`);
    }
  });
});

describe('README --platform row', () => {
  const row = () => {
    const line = readFileSync(`${repo}/README.md`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('| `--platform'));
    expect(line).toBeDefined();
    return line!;
  };

  it('a list it names builds one index of those platforms', async () => {
    const list = /a list \(`([^`]+)`\) builds every platform into one OCI image index/.exec(row())?.[1];
    expect(list).toContain(',');
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-platform-list-'));
    try {
      writeFileSync(join(dir, 'Buildfile'), 'FROM scratch\nLABEL a=b\n');
      const r = await run(['--root', join(dir, 'root'), 'build', '-q', '--platform', list!, '-t', 'p:list', dir]);
      expect(r.code, r.stderr).toBe(0);
      const inspect = await run(['--root', join(dir, 'root'), 'inspect', 'p:list']);
      const index = (JSON.parse(inspect.stdout) as { index?: { manifests: { platform: string }[] } }).index;
      expect(index?.manifests.map((m) => m.platform).join(',')).toBe(list);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one word is read as it says: an OS on this machine, an architecture on Linux', async () => {
    const cell = row();
    expect(cell).toContain("`linux`: this machine's architecture");
    const arch = /`(\w+)`: `linux\/(\w+)`/.exec(cell);
    expect(arch?.[1]).toBe(arch?.[2]);
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-platform-'));
    try {
      writeFileSync(join(dir, 'Buildfile'), 'FROM scratch\nLABEL a=b\n');
      const host = { x64: 'amd64', arm64: 'arm64' }[process.arch as 'x64' | 'arm64'] ?? process.arch;
      for (const [word, want] of [
        ['linux', host],
        [arch![1]!, arch![2]!],
      ]) {
        const r = await run(['--root', join(dir, 'root'), 'build', '-q', '--platform', word!, '-t', `p:${word}`, dir]);
        expect(r.code, r.stderr).toBe(0);
        const inspect = await run(['--root', join(dir, 'root'), 'inspect', `p:${word}`]);
        expect(inspect.code, inspect.stderr).toBe(0);
        expect((JSON.parse(inspect.stdout) as { config: unknown }).config).toMatchObject({
          os: 'linux',
          architecture: want,
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
