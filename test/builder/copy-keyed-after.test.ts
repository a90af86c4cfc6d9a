// A COPY that will run whatever its key (a store with no cache record, or a stage that missed already) hashes its
// sources as it copies them (builder/steps/copy.ts `runsAnyway`): each context file is read once, not once for the
// key and again for the copy. Its key must be the one a hashed-first COPY computes, or the next build would miss:
// a rebuild is all CACHED, its layers are a hashed-first build's, and a changed file is named as the reason. The
// reads are counted with strace (openat of one file's name): 1 when the copy hashed it, 2 when it was hashed first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, stepResults, tsbFor } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;

beforeAll(async () => {
  ({ registry, root, work } = await makeBuildEnv('copy-keyed'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

/** Times clamped: two builds' layers are byte for byte alike only if the directories they make are. */
const EPOCH = { SOURCE_DATE_EPOCH: '1700000000' };

/** The file whose opens are counted: in one COPY's sources only. */
const MARKER = 'marker-once.txt';

function makeContext(dir: string): void {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub', 'deep'), { recursive: true });
  mkdirSync(join(src, 'empty'));
  for (let i = 0; i < 40; i++) writeFileSync(join(src, 'sub', `f${i}.txt`), `file ${i}\n`.repeat(i + 1));
  writeFileSync(join(src, 'sub', 'deep', MARKER), 'read once\n');
  // copied by the kernel, not through a buffer: hashed by its own read
  writeFileSync(join(src, 'big.bin'), Buffer.alloc(200 * 1024, 'big'));
  writeFileSync(join(src, 'h1'), 'two names\n');
  linkSync(join(src, 'h1'), join(src, 'h2'));
  symlinkSync('sub/f1.txt', join(src, 'link'));
  writeFileSync(join(dir, 'single.txt'), 'one file\n');
  writeFileSync(join(dir, 'other.txt'), 'another\n');
  // a local archive, which ADD unpacks (its own bytes are what the key hashes)
  const t = spawnSync('tar', ['-cf', join(dir, 'arch.tar'), '-C', join(src, 'sub'), 'f1.txt', 'f2.txt']);
  expect(t.status).toBe(0);
  writeFileSync(
    join(dir, 'Buildfile'),
    [
      'FROM busybox:latest',
      'COPY src /s/',
      'COPY single.txt /one/single.txt',
      'COPY single.txt other.txt /multi/',
      'ADD arch.tar /arch/',
      '',
    ].join('\n'),
  );
}

/**
 * A build of `ctx` under strace: the CLI's result and how many times MARKER was opened for reading by its name in
 * the context (the copy creates it by name too, and the commit opens it by its path in the upperdir).
 */
function tracedBuild(storeRoot: string, ctx: string, what: string): { stderr: string; opens: number } {
  const trace = join(work, `trace-${Date.now()}`);
  const r = tsbFor(storeRoot, registry.host)(['build', '--progress=json', '-t', 'keyed:1', ctx], {
    env: EPOCH,
    strace: { calls: 'openat,openat2,open', out: trace },
  });
  ok(r, what);
  const opens = readFileSync(trace, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"${MARKER}", O_RDONLY`)).length;
  return { stderr: r.stderr, opens };
}

const layers = (stderr: string): string[] =>
  events(stderr).flatMap((e) => (e.type === 'step-end' ? [`${e.step.instruction} ${e.layer?.digest ?? '-'}`] : []));

const ran = (stderr: string): string[] => stepResults(events(stderr)).flatMap((s) => (s.cached ? [] : [s.instruction]));

describe('COPY keyed after it runs', () => {
  it('reads each file once in a fresh store, and keys and lays out as a COPY hashed first', async () => {
    const ctx = join(work, 'ctx');
    makeContext(ctx);

    // a fresh store: no lookup can hit, every COPY hashes as it copies
    const fresh = await mkdtemp(join(work, 'fresh-'));
    const a = tracedBuild(fresh, ctx, 'build in a fresh store');
    expect(a.opens).toBe(1);

    // a store holding a record: the first COPY is hashed before its lookup, the file is read twice
    const used = await mkdtemp(join(work, 'used-'));
    const warm = join(work, 'warm');
    mkdirSync(warm);
    writeFileSync(join(warm, 'Buildfile'), 'FROM busybox:latest\nRUN true\n');
    ok(tsbFor(used, registry.host)(['build', '-q', '-t', 'warm:1', warm]), 'build that leaves a record');
    const b = tracedBuild(used, ctx, 'build in a store with a record');
    expect(b.opens).toBe(2);
    // the same layers either way (the first step is the base image's: no layer of its own)
    expect(layers(a.stderr)).toEqual(layers(b.stderr));
    expect(layers(a.stderr)).toHaveLength(5);

    // the keys the fresh store recorded are the ones a hashed-first lookup computes
    const tsb = tsbFor(fresh, registry.host);
    const again = tsb(['build', '--progress=json', '-t', 'keyed:1', ctx], { env: EPOCH });
    ok(again, 'rebuild');
    expect(ran(again.stderr)).toEqual([]);

    // a changed file is named (the per-file inputs were spooled as the copy went); the steps after it miss as
    // their stage did and hash as they copy, and key as a hashed-first build would
    writeFileSync(join(ctx, 'src', 'sub', 'f7.txt'), 'changed\n');
    const touched = tsb(['build', '--progress=json', '-t', 'keyed:1', ctx], { env: EPOCH });
    ok(touched, 'build after a change');
    const misses = events(touched.stderr).flatMap((e) => (e.type === 'cache-miss' ? [e.reason] : []));
    expect(misses[0]).toBe('file changed: src/sub/f7.txt');
    expect(ran(touched.stderr)).toHaveLength(4);
    const still = tsb(['build', '--progress=json', '-t', 'keyed:1', ctx], { env: EPOCH });
    ok(still, 'rebuild after the change');
    expect(ran(still.stderr)).toEqual([]);

    // the records gone (the image removed, then prune) but the last build's inputs kept: the COPY keyed after it
    // runs has no per-file inputs yet, so its reason names no file (the last build's are not compared with nothing)
    ok(tsb(['rmi', 'keyed:1']), 'rmi');
    ok(tsb(['prune']), 'prune');
    const bare = tsb(['build', '--progress=json', '-t', 'keyed:1', ctx], { env: EPOCH });
    ok(bare, 'build after prune');
    const reasons = events(bare.stderr).flatMap((e) => (e.type === 'cache-miss' ? [e.reason] : []));
    expect(reasons[0]).toBe('no cache record');
  });
});
