// A COPY of one directory writes its layer tar as it copies (store/layer-tar/premade.ts): the commit checks each
// entry of the upperdir against it with lstat and reads no small file back. strace counts the build's opens of the
// upperdir's files; the layers must be what a full walk of their directories gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { diffDir } from '../../store/layer-tar/diff.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, tsbFor } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;

beforeAll(async () => {
  ({ registry, root, work } = await makeBuildEnv('copy-premade'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

function makeContext(dir: string): void {
  const t = join(dir, 'tree');
  for (let d = 0; d < 6; d++) {
    mkdirSync(join(t, `d${d}`, 'inner'), { recursive: true });
    for (let i = 0; i < 40; i++) writeFileSync(join(t, `d${d}`, `small-${d}-${i}.txt`), `${d}/${i}\n`.repeat(i * 7));
    writeFileSync(join(t, `d${d}`, 'inner', 'x.txt'), 'x\n');
  }
  mkdirSync(join(t, 'empty'));
  writeFileSync(join(t, 'over-inline.bin'), Buffer.alloc(200 * 1024, 1));
  writeFileSync(join(t, 'over-batch.bin'), Buffer.alloc((2 << 20) + 5, 2));
  writeFileSync(join(t, `${'long-'.repeat(25)}name.txt`), 'PAX\n');
  writeFileSync(join(t, 'ünï.txt'), 'utf-8\n');
  writeFileSync(join(t, 'private.txt'), 'private\n');
  chmodSync(join(t, 'private.txt'), 0o600);
  symlinkSync('d0/small-0-1.txt', join(t, 'link'));
  writeFileSync(
    join(dir, 'Buildfile'),
    ['FROM busybox:latest', 'COPY tree /app/tree', 'COPY --chown=7:8 tree /owned/', 'COPY tree /', ''].join('\n'),
  );
}

async function walkDigest(dir: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of diffDir(dir)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

describe('COPY with a premade layer tar', () => {
  it('reads no small file back to commit, and its layers are a full walk’s', async () => {
    const ctx = join(work, 'ctx');
    makeContext(ctx);
    const trace = join(work, 'trace');
    const r = tsbFor(root, registry.host)(['build', '--progress=json', '-t', 'premade:1', ctx], {
      strace: { calls: 'openat,openat2,open', out: trace },
    });
    ok(r, 'build');
    const upperReads = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((l) => l.includes('/upper/') && l.includes('O_RDONLY'));
    // a full walk opens every regular file of the upperdir by its path; here only the bodies the copy left to the
    // kernel are (each COPY's two large files), which also shows the trace sees the commit's opens
    expect(upperReads.filter((l) => l.includes('small-'))).toEqual([]);
    expect(upperReads.filter((l) => /over-(inline|batch)\.bin/.test(l))).toHaveLength(6);

    const layers = events(r.stderr).flatMap((e) =>
      e.type === 'step-end' && e.layer ? [e.layer.digest as string] : [],
    );
    expect(layers).toHaveLength(3);
    for (const digest of layers) {
      const dir = join(root, 'layers', digest.slice('sha256:'.length), 'diff');
      expect(await walkDigest(dir), digest).toBe(digest);
    }
  });
});
