// The CLI bundle (scripts/bundle.mjs) as bin/tsbuild runs it: esbuild's output written as it comes, Node's costly
// built-ins loaded only when used, and code that reads right as latin1 (bin/tsbuild's one-byte read).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin', 'tsbuild');
const tmp = mkdtempSync(join(tmpdir(), 'tsbuild-bundle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs bin/tsbuild and returns the built-ins Node had loaded when it exited. */
function builtinsLoadedBy(args: string[], input?: string): { status: number | null; stdout: string; loaded: string[] } {
  const out = join(tmp, `modules-${args.join('-').replace(/\W/g, '_')}.json`);
  const preload = join(tmp, 'preload.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)));`,
  );
  const r = spawnSync(process.execPath, ['--require', preload, bin, ...args], {
    encoding: 'utf8',
    cwd: tmp,
    ...(input !== undefined ? { input } : {}),
  });
  const list = JSON.parse(readFileSync(out, 'utf8')) as string[];
  const loaded = list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  return { status: r.status, stdout: r.stdout, loaded };
}

// what the bundle loads on first use only (scripts/bundle.mjs LAZY_BUILTINS; assert is signal-exit's stub)
const LAZY = ['https', 'tls', 'zlib', 'child_process', 'worker_threads', 'assert'];

describe('the CLI bundle', () => {
  it('is esbuild output as written: nothing rewrites it after the build', () => {
    const meta = JSON.parse(readFileSync(join(repo, 'dist', 'bundle', 'meta.json'), 'utf8')) as {
      outputs: Record<string, { bytes: number }>;
    };
    const main = Object.entries(meta.outputs).find(([path]) => path.endsWith('main.cjs'));
    expect(main).toBeDefined();
    expect(statSync(join(repo, 'dist', 'bundle', 'main.cjs')).size).toBe(main![1].bytes);
  });

  it('loads none of the lazy built-ins for --version or a parse', () => {
    const v = builtinsLoadedBy(['--version']);
    expect(v.status).toBe(0);
    // commander is loaded (it requires child_process at its top), the built-in is not
    expect(v.loaded.filter((m) => LAZY.includes(m))).toEqual([]);
    const p = builtinsLoadedBy(['parse', '-'], 'FROM scratch\nRUN true\n');
    expect(p.status).toBe(0);
    expect(p.loaded.filter((m) => LAZY.includes(m))).toEqual([]);
  });

  it('loads none of them for a no-op rebuild either (koffi without its build tool)', () => {
    // koffi's package entry requires https, tls and zlib for its download tool; the store and the runtime load its
    // addon directly (oci/koffi.ts)
    const ctx = join(tmp, 'noop');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'a'), 'a\n');
    writeFileSync(join(ctx, 'Buildfile'), 'FROM scratch\nCOPY a /a\n');
    const args = ['--root', join(tmp, 'root'), 'build', '-q', '-t', 'noop:1', ctx];
    expect(builtinsLoadedBy(args).status).toBe(0);
    const again = builtinsLoadedBy(args);
    expect(again.status).toBe(0);
    expect(again.loaded.filter((m) => LAZY.includes(m))).toEqual([]);
  });

  it('runs regular expressions naming non-ASCII characters as written (HEALTHCHECK durations in µs)', () => {
    // `parse --json` validates durations with a regular expression naming µ and μ: it must match as read (latin1)
    const r = spawnSync(bin, ['parse', '--json', '-'], {
      encoding: 'utf8',
      cwd: tmp,
      input: 'FROM scratch\nHEALTHCHECK --interval=1500000\u00b5s --timeout=2000000\u03bcs CMD true\n',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('1500000\u00b5s');
  });
});
