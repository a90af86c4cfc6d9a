// COPY of directories with enough files that the builder hands small ones to the file writer thread
// (builder/steps/upper.ts `queued`): every file must land exactly as one copied on the main thread would, with its
// bytes, mode (setuid and setgid too, after a --chown), owner, and modification and access times to the millisecond
// (the access time is the source's at the copy, in whole milliseconds); a later source of the same step replaces an
// earlier one's files of the same name; files around the 64 KiB line (read and written on a thread, or copied by the
// kernel) are alike. Read back by `stat` inside a RUN, which sees the layers' own files (a tar would keep whole
// seconds only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('copy-many'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

interface Src {
  rel: string;
  mode: number;
  data: Buffer;
  mtimeMs: number;
}

const SIZES = [0, 1, 100, 4096, 65535, 65536, 65537, 70000];
const MODES = [0o644, 0o755, 0o4755, 0o2750, 0o600, 0o444];

/** `n` files below `dir` in three subdirectories, each with its own size, mode and modification time. */
function generate(dir: string, n: number, seed: number): Src[] {
  const out: Src[] = [];
  for (let i = 0; i < n; i++) {
    const sub = `s${i % 3}`;
    mkdirSync(join(dir, sub), { recursive: true });
    const size = SIZES[(i * 7 + seed) % SIZES.length]!;
    const data = Buffer.alloc(size, `${seed}:${i};`);
    const rel = `${sub}/f${i}`;
    const mode = MODES[(i + seed) % MODES.length]!;
    const mtimeMs = 1_600_000_000_000 + i * 1_000_003 + seed * 17 + (i % 1000);
    writeFileSync(join(dir, rel), data);
    chmodSync(join(dir, rel), mode);
    utimesSync(join(dir, rel), mtimeMs / 1000, mtimeMs / 1000);
    out.push({ rel, mode, data, mtimeMs });
  }
  return out;
}

/** What busybox `stat -c '%n %a %u %g %s %y'` and md5sum print for a file. */
function line(path: string, s: Src, uid: number, gid: number): string {
  const t = (ms: number): string => `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')}000000 +0000`;
  const md5 = createHash('md5').update(s.data).digest('hex');
  return `${path} ${s.mode.toString(8)} ${uid} ${gid} ${s.data.length} ${t(s.mtimeMs)} ${md5}`;
}

describe('COPY of many files', () => {
  it('puts each file as the copy on the main thread does: bytes, mode, owner, times to the ms', () => {
    const ctx = join(work, 'ctx');
    const a = generate(join(ctx, 'a'), 900, 0);
    // b holds the first 90 of a's names, with other contents, modes and times
    const b = generate(join(ctx, 'b'), 90, 1);
    writeFileSync(
      join(work, 'Buildfile'),
      [
        'FROM busybox:latest',
        'COPY a/ /x/',
        'COPY a/ b/ /y/',
        'COPY --chown=7:8 a/ /z/',
        // stat before md5sum: reading a file may move its access time
        `RUN for f in $(find /x /y /z -type f | sort); do echo "$(stat -c '%n %a %u %g %s %y %x' $f) $(md5sum < $f | cut -d' ' -f1)"; done > /listing`,
        '',
      ].join('\n'),
    );
    ok(tsb(['build', '-q', '-f', join(work, 'Buildfile'), '-t', 'copy-many:1', ctx]), 'build');
    const r = tsb(['run', '--network', 'none', 'copy-many:1', 'cat', '/listing']);
    ok(r, 'run');

    const want: string[] = [];
    for (const s of a) want.push(line(`/x/${s.rel}`, s, 0, 0));
    const y = new Map(a.map((s) => [s.rel, s]));
    for (const s of b) y.set(s.rel, s);
    for (const s of y.values()) want.push(line(`/y/${s.rel}`, s, 0, 0));
    for (const s of a) want.push(line(`/z/${s.rel}`, s, 7, 8));
    const lines = r.stdout.trim().split('\n');
    // the access time is the source's when the COPY read it (the reads before move it): whole milliseconds only
    expect(lines.filter((l) => !/ \d{2}:\d{2}:\d{2}\.\d{3}000000 \+0000 [0-9a-f]{32}$/.test(l)).slice(0, 5)).toEqual(
      [],
    );
    const got = new Set(lines.map((l) => l.replace(/ \S+ \S+ \+0000 (?=[0-9a-f]{32}$)/, ' ')));
    expect(want.filter((l) => !got.has(l)).slice(0, 5)).toEqual([]);
    expect(got.size).toBe(want.length);
  }, 300_000);
});
