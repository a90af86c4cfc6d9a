// A monorepo-sized context (issue 18): 100,000 generated files in nested directories, with a symlink, an empty
// directory, executables, private files and a .dockerignore with an exception. `COPY . /ctx/` and
// `COPY --chown=1:2 . /own/` must put every file in the layer (names, types, modes, owners, sizes, contents) and
// nothing else; a rebuild with nothing changed must be all CACHED. Memory and time at this scale are benchmark
// figures (bench/scale.mjs), never asserted here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../../oci/index.js';
import type { RegistryFixture } from '../fixtures/registry.js';
import { openStore } from '../../store/index.js';
import { decompressed } from '../../store/decompress.js';
import { readTar } from '../../store/layer-tar/tar-reader.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { BIN, events, ok, REPO, stepResults, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;

beforeAll(async () => {
  ({ registry, root, work } = await makeBuildEnv('scale'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

interface Want {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  /** Content of a file, target of a symlink. */
  data: string;
}

const DIRS = 500;
const FILES = 200;

/** Writes the context; returns what the layer must hold below the destination (relative names, dirs with `/`). */
function generate(ctx: string): Map<string, Want> {
  const want = new Map<string, Want>();
  mkdirSync(ctx);
  const dir = (rel: string, mode = 0o755): void => {
    mkdirSync(join(ctx, rel));
    chmodSync(join(ctx, rel), mode);
    want.set(`${rel}/`, { type: 'dir', mode, data: '' });
  };
  const file = (rel: string, data: string, mode: number, kept = true): void => {
    writeFileSync(join(ctx, rel), data);
    chmodSync(join(ctx, rel), mode);
    if (kept) want.set(rel, { type: 'file', mode, data });
  };
  file('.dockerignore', '**/*.tmp\n!keep/*.tmp\npkg0499/src/gen\n', 0o644);
  for (let d = 0; d < DIRS; d++) {
    const pkg = `pkg${String(d).padStart(4, '0')}`;
    dir(pkg);
    dir(`${pkg}/src`, d % 7 === 0 ? 0o750 : 0o755);
    for (let f = 0; f < FILES; f++) {
      // half the files one level deeper: the walk's order and the parents-before-children rule are exercised
      const rel = `${pkg}/${f % 2 === 0 ? 'src/' : ''}f${String(f).padStart(3, '0')}.txt`;
      const mode = f % 50 === 0 ? 0o755 : f % 70 === 0 ? 0o600 : 0o644;
      file(rel, `${d}/${f}\n`.repeat(1 + (f % 5)), mode);
    }
  }
  // ignored: *.tmp everywhere, a whole directory; kept again: keep/*.tmp
  dir('pkg0499/src/gen');
  want.delete('pkg0499/src/gen/');
  file('pkg0499/src/gen/out.js', 'generated\n', 0o644, false);
  file('pkg0001/scratch.tmp', 'scratch\n', 0o644, false);
  dir('keep');
  file('keep/a.tmp', 'kept\n', 0o640);
  dir('empty', 0o700);
  dir('links');
  symlinkSync('../pkg0000/src/f000.txt', join(ctx, 'links/first'));
  want.set('links/first', { type: 'symlink', mode: 0o777, data: '../pkg0000/src/f000.txt' });
  return want;
}

/** Checks every entry of the layer below `prefix` against `want`, streaming the tar. */
async function checkLayer(
  store: Awaited<ReturnType<typeof openStore>>,
  digest: string,
  prefix: string,
  want: Map<string, Want>,
  owner: { uid: number; gid: number },
): Promise<void> {
  const seen = new Set<string>();
  const wrong: string[] = [];
  const tar = await decompressed(await store.blobs.open(digest as Digest));
  for await (const e of readTar(tar)) {
    if (e.name === prefix) continue; // the destination directory itself (made like a missing parent)
    if (!e.name.startsWith(prefix)) {
      wrong.push(`outside ${prefix}: ${e.name}`);
      continue;
    }
    const rel = e.name.slice(prefix.length);
    const w = want.get(rel);
    seen.add(rel);
    if (!w) {
      wrong.push(`unexpected ${rel}`);
      continue;
    }
    const problems: string[] = [];
    if (e.type !== w.type) problems.push(`type ${e.type}`);
    if (w.type !== 'symlink' && (e.mode & 0o7777) !== w.mode) problems.push(`mode ${(e.mode & 0o7777).toString(8)}`);
    if (e.uid !== owner.uid || e.gid !== owner.gid) problems.push(`owner ${e.uid}:${e.gid}`);
    if (w.type === 'symlink' && e.linkname !== w.data) problems.push(`target ${e.linkname}`);
    if (w.type === 'file') {
      const chunks: Buffer[] = [];
      for await (const c of e.body()) chunks.push(c);
      const data = Buffer.concat(chunks).toString();
      if (e.size !== Buffer.byteLength(w.data) || data !== w.data) problems.push(`content ${JSON.stringify(data)}`);
    }
    if (problems.length > 0) wrong.push(`${rel}: ${problems.join(', ')}`);
  }
  for (const rel of want.keys()) if (!seen.has(rel)) wrong.push(`missing ${rel}`);
  expect(wrong.slice(0, 20)).toEqual([]);
  expect(seen.size).toBe(want.size);
}

/** The CLI without blocking this process (a long spawnSync starves the test runner's own messages). */
function tsbAsync(args: string[]): Promise<ReturnType<Tsb>> {
  const host = registry.host;
  return new Promise((resolve, reject) => {
    const p = spawn(
      BIN,
      ['--root', root, '--registry-mirror', `http://${host}`, '--insecure-registry', host, ...args],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('a 100,000-file context', () => {
  it('COPY . puts every file in the layer with its mode and owner, and a rerun is all CACHED', async () => {
    const ctx = join(work, 'ctx');
    const want = generate(ctx);
    expect(want.size).toBeGreaterThan(DIRS * FILES);
    const buildfile = join(work, 'Buildfile');
    writeFileSync(buildfile, 'FROM busybox:latest\nCOPY . /ctx/\nCOPY --chown=1:2 . /own/\n');
    const build = (): Promise<ReturnType<Tsb>> =>
      tsbAsync(['build', '--progress=json', '-f', buildfile, '-t', 'scale:1', ctx]);

    const cold = await build();
    ok(cold, 'cold build');
    const layers = events(cold.stderr).flatMap((e) =>
      e.type === 'step-end' && e.step.instruction.startsWith('COPY') ? [e.layer?.digest ?? 'none'] : [],
    );
    expect(layers).toHaveLength(2);
    const store = await openStore(root);
    await checkLayer(store, layers[0]!, 'ctx/', want, { uid: 0, gid: 0 });
    await checkLayer(store, layers[1]!, 'own/', want, { uid: 1, gid: 2 });

    const noop = await build();
    ok(noop, 'no-op build');
    expect(stepResults(events(noop.stderr)).map((s) => `${s.cached ? 'CACHED' : 'RAN'} ${s.instruction}`)).toEqual([
      'CACHED FROM busybox:latest',
      'CACHED COPY . /ctx/',
      'CACHED COPY --chown=1:2 . /own/',
    ]);
  }, 600_000);
});
