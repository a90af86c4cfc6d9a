// bin/tsbuild's V8 code cache is kept per Node version and V8 flags: V8 refuses a cache made under other ones, and
// a refused cache is rewritten at exit, so runs under two Nodes (CI's 20 and 24) or two NODE_OPTIONS would each
// throw the other's cache away. Runs a copy of bin/ and the bundle, so that the checkout's own cache is left alone.
// A cache is written by the first successful run of a command and extended by the next three, never by a failed one.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const top = mkdtempSync(join(tmpdir(), 'tsbuild-code-cache-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));

describe('the code cache of bin/tsbuild', () => {
  it('is kept per V8 flag set: alternating runs reuse their own cache instead of rewriting a shared one', () => {
    cpSync(join(repo, 'bin'), join(top, 'bin'), { recursive: true });
    cpSync(join(repo, 'dist', 'bundle'), join(top, 'dist', 'bundle'), {
      recursive: true,
      filter: (src) => !src.includes(`${join('dist', 'bundle', 'cache')}`),
    });
    cpSync(join(repo, 'package.json'), join(top, 'package.json'));
    symlinkSync(join(repo, 'node_modules'), join(top, 'node_modules'));
    const cache = join(top, 'dist', 'bundle', 'cache');
    const run = (nodeOptions: string) => {
      const r = spawnSync(process.execPath, [join(top, 'bin', 'tsbuild'), '--version'], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: nodeOptions },
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    };
    // the cache files by name, with what identifies one write of each (a rewrite is a rename onto the name)
    const files = () =>
      Object.fromEntries(
        readdirSync(cache)
          .filter((f) => f.endsWith('.v8'))
          .map((f) => {
            const s = statSync(join(cache, f));
            return [f, `${s.ino}:${s.mtimeMs}`];
          }),
      );
    // --max-old-space-size is among the flags V8's cache check hashes: a cache made without it is refused with it
    // (and back). The first four successful runs of each write it (it grows with what they run), then it stays.
    for (let i = 0; i < 4; i++) {
      run('');
      run('--max-old-space-size=500');
    }
    const before = files();
    expect(Object.keys(before)).toHaveLength(2);
    run('');
    run('--max-old-space-size=500');
    expect(files()).toEqual(before);

    // a run that fails stopped early: it leaves no cache for the runs after it to start from
    const parse = (file: string) =>
      spawnSync(process.execPath, [join(top, 'bin', 'tsbuild'), 'parse', file], { encoding: 'utf8' }).status;
    const parseCaches = () => readdirSync(cache).filter((f) => f.startsWith('parse-'));
    expect(parse(join(top, 'missing-Buildfile'))).not.toBe(0);
    expect(parseCaches()).toEqual([]);
    writeFileSync(join(top, 'Buildfile'), 'FROM scratch\n');
    expect(parse(join(top, 'Buildfile'))).toBe(0);
    expect(parseCaches().filter((f) => f.endsWith('.v8'))).toHaveLength(1);

    // a cache made by one run is written again by the next successful ones (what each of them ran is added), up to
    // four writes: its .runs file counts them
    const parseCache = join(
      cache,
      parseCaches().find((f) => f.endsWith('.v8'))!,
    );
    const writes = () => readFileSync(`${parseCache}.runs`, 'utf8');
    const counts = [writes()];
    for (let i = 0; i < 4; i++) {
      const mtime = statSync(parseCache).mtimeMs;
      expect(parse(join(top, 'Buildfile'))).toBe(0);
      counts.push(writes());
      expect(statSync(parseCache).mtimeMs === mtime).toBe(i === 3);
    }
    expect(counts).toEqual(['1', '2', '3', '4', '4']);
  });
});
