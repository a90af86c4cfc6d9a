// A COPY's premade tar (store/layer-tar/premade.ts): the commit's walk takes it only when every entry of the
// upperdir is as its record says, and the layer is then byte for byte the one a full walk makes. Anything else (a
// mode changed, an entry added or gone, an xattr, a hard link) fails that walk with PremadeMismatch, and the store's
// commit walks the upperdir in full instead: the same digest as a commit without it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../store/index.js';
import { BlobStore } from '../../store/blobs.js';
import { diffChunks, diffDir } from '../../store/layer-tar/diff.js';
import { readFileBody, type FileBody } from '../../store/layer-tar/file-body.js';
import { PremadeMismatch, PremadeTarWriter, type PremadeTar } from '../../store/layer-tar/premade.js';
import { setXattr } from '../../store/xattr.js';
import { cleanupTemps, tempDir } from './helpers.js';

afterAll(cleanupTemps);

const SUB = 'app/tree';

/** An upperdir as a COPY leaves it: `app/` made for the destination, the copied tree below, a file beside. */
function makeUpper(upper: string): void {
  const t = join(upper, SUB);
  fs.mkdirSync(join(t, 'a/b'), { recursive: true });
  fs.mkdirSync(join(t, 'empty'));
  fs.writeFileSync(join(t, 'a/empty.txt'), '');
  fs.writeFileSync(join(t, 'a/block.bin'), Buffer.alloc(512, 7));
  fs.writeFileSync(join(t, 'a/inline-max.bin'), Buffer.alloc(64 * 1024, 3));
  // just over what the premade tar holds, and over what the diff reads in one call: bodies read from the upperdir
  fs.writeFileSync(join(t, 'a/b/over.bin'), Buffer.alloc(64 * 1024 + 1, 4));
  fs.writeFileSync(join(t, 'a/b/large.bin'), Buffer.alloc((2 << 20) + 77, 5));
  // enough small files for several spans of the tar
  for (let i = 0; i < 120; i++) fs.writeFileSync(join(t, 'a', `s${i}.txt`), Buffer.alloc(48 * 1024 + i, i));
  fs.writeFileSync(join(t, `${'long-name-'.repeat(12)}.txt`), 'a PAX path\n');
  fs.writeFileSync(join(t, 'ünïcödé.txt'), 'utf-8 name\n');
  fs.symlinkSync('a/empty.txt', join(t, 'link'));
  fs.symlinkSync(`${'far/'.repeat(30)}target`, join(t, 'long-link'));
  fs.chmodSync(join(t, 'a/block.bin'), 0o4755);
  fs.chownSync(join(t, 'a/s1.txt'), 1234, 5678);
  fs.utimesSync(join(t, 'a/s2.txt'), 1_600_000_000.5, 1_600_000_000.5);
  fs.writeFileSync(join(upper, 'zz-after.txt'), 'beside the tree, after it\n');
}

/** The premade tar of the tree below SUB, as a COPY writes it: the entries in the walk's order, from what it set. */
async function writePremade(upper: string, scratch: string, clamp?: number): Promise<PremadeTar> {
  const w = new PremadeTarWriter(join(scratch, `premade-${Date.now()}-${Math.random()}.tar`), SUB, clamp);
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(join(upper, rel)).sort()) {
      const r = `${rel}/${n}`;
      const abs = join(upper, r);
      const st = fs.lstatSync(abs);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        w.dir(r, mode, st.uid, st.gid, st.mtimeMs);
        walk(r);
      } else if (st.isSymbolicLink()) w.symlink(r, fs.readlinkSync(abs), st.uid, st.gid, st.mtimeMs);
      else if (st.size > 64 * 1024) w.largeFile(r, mode, st.uid, st.gid, st.mtimeMs, st.size);
      else w.file(r, mode, st.uid, st.gid, st.mtimeMs, fs.readFileSync(abs));
    }
  };
  walk(SUB);
  const tar = await w.finish();
  expect(tar).toBeDefined();
  return tar!;
}

/** The digest of a full walk of `dir`. */
async function fullDigest(dir: string, clamp?: number): Promise<string> {
  const h = createHash('sha256');
  for await (const c of diffDir(dir, clamp !== undefined ? { sourceDateEpoch: clamp } : {})) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** The digest of the walk that takes `premade`, and how many spans of it came whole. */
async function premadeDigest(dir: string, premade: PremadeTar): Promise<{ digest: string; spans: number }> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  let spans = 0;
  const opts = {
    premade,
    ...(premade.sourceDateEpoch !== undefined ? { sourceDateEpoch: premade.sourceDateEpoch } : {}),
  };
  for await (const c of diffChunks(dir, opts)) {
    if (Buffer.isBuffer(c)) h.update(c);
    else {
      if ((c as FileBody).path === premade.path) spans++;
      for (const piece of readFileBody(c, buf)) h.update(piece);
    }
  }
  return { digest: `sha256:${h.digest('hex')}`, spans };
}

describe('premade layer tar', () => {
  it('gives the full walk’s bytes, its spans handed on whole', async () => {
    const base = await tempDir();
    const upper = join(base, 'upper');
    makeUpper(upper);
    const premade = await writePremade(upper, base);
    const r = await premadeDigest(upper, premade);
    expect(r.digest).toBe(await fullDigest(upper));
    // ~6 MiB of small files: more than one span, and one before each large body
    expect(r.spans).toBeGreaterThan(3);

    // through the blob writer's thread (the regions it copies from an offset) as a commit does
    const blobs = new BlobStore(join(base, 'store'));
    fs.mkdirSync(blobs.tmpDir, { recursive: true });
    fs.mkdirSync(join(base, 'store', 'blobs', 'sha256'), { recursive: true });
    const ingested = await blobs.ingestChunks(diffChunks(upper, { premade }));
    expect(ingested.digest).toBe(r.digest);
    await blobs.close();

    // with SOURCE_DATE_EPOCH, made with the same clamp
    const clamped = await writePremade(upper, base, 1_650_000_000);
    expect((await premadeDigest(upper, clamped)).digest).toBe(await fullDigest(upper, 1_650_000_000));
  });

  it('is refused when the upperdir is not as it says, and the commit walks in full', async () => {
    const changes: [string, (upper: string) => void][] = [
      ['a mode', (u) => fs.chmodSync(join(u, SUB, 'a/s3.txt'), 0o600)],
      ['an owner', (u) => fs.chownSync(join(u, SUB, 'a/s4.txt'), 0, 42)],
      ['a size', (u) => fs.appendFileSync(join(u, SUB, 'a/s5.txt'), 'more')],
      ['a time', (u) => fs.utimesSync(join(u, SUB, 'a/b'), 1_500_000_000, 1_500_000_000)],
      ['an entry added', (u) => fs.writeFileSync(join(u, SUB, 'a/new.txt'), 'new\n')],
      ['an entry gone', (u) => fs.rmSync(join(u, SUB, 'a/s6.txt'))],
      ['a link target', (u) => (fs.rmSync(join(u, SUB, 'link')), fs.symlinkSync('elsewhere', join(u, SUB, 'link')))],
      ['a hard link', (u) => fs.linkSync(join(u, SUB, 'a/s7.txt'), join(u, 'hard'))],
      ['an xattr', (u) => setXattr(join(u, SUB, 'a'), 'user.mark', Buffer.from('x'))],
      ['a type', (u) => (fs.rmSync(join(u, SUB, 'a/s8.txt')), fs.mkdirSync(join(u, SUB, 'a/s8.txt')))],
    ];
    const base = await tempDir();
    const store = await openStore(join(base, 'store'));
    try {
      for (const [what, change] of changes) {
        const upper = join(base, `upper-${changes.findIndex((c) => c[0] === what)}`);
        makeUpper(upper);
        const premade = await writePremade(upper, base);
        change(upper);
        await expect(premadeDigest(upper, premade), what).rejects.toBeInstanceOf(PremadeMismatch);
        const want = await fullDigest(upper);
        const c = await store.layers.commit(upper, { premade });
        expect(c.diffID, what).toBe(want);
      }
    } finally {
      await store.close();
    }
  });
});
