// The context walk handed to a worker thread (builder/context-walk.ts): the same entries, in the same order, with the
// same metadata as a walk on the calling thread and as a plain recursive walk; .dockerignore's pruning and held-back
// directories the same on both threads; an error at the same place, with the same code. Needs `npm run build` (the
// worker runs tsc's output).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildContext, type ContextEntry } from '../../builder/context.js';
import { walkBelow, type WalkWorkerUse } from '../../builder/context-walk.js';
import { startWorker } from '../../store/index.js';

/** The walk's worker from the second entry on, and surely (the walk waits for it to be ready). */
const EARLY: WalkWorkerUse = { after: 1, wait: true, start: startWorker };
const NONE = { ignorer: null, patterns: [], hasExceptions: false };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-walk-'));
  // 3 × 4 directories of 300 files, empty directories, links, names that sort differently as bytes and as UTF-16
  for (let a = 0; a < 3; a++)
    for (let b = 0; b < 4; b++) {
      const d = join(dir, `a${a}`, `b ${b}`);
      mkdirSync(d, { recursive: true });
      for (let f = 0; f < 300; f++) {
        // times of their own, apart from ctime: a field taken for another shows
        writeFileSync(join(d, `f${f}.txt`), 'x'.repeat(f));
        utimesSync(join(d, `f${f}.txt`), 1_000_000 + f * 1.25, 2_000_000 + f * 0.5);
      }
    }
  mkdirSync(join(dir, 'empty'));
  mkdirSync(join(dir, 'a1', 'empty'));
  symlinkSync('../b 0/f1.txt', join(dir, 'a0', 'b 1', 'link'));
  symlinkSync('/nowhere', join(dir, 'a2', 'dangling'));
  for (const n of ['\u00e9t\u00e9', '\ud83d\ude00', '\uff5e', 'Z', '_', 'a b']) writeFileSync(join(dir, 'a2', n), n);
  writeFileSync(join(dir, 'top.txt'), 'top');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a walk is compared on: every field a build uses (a directory's or link's atime moves when a walk reads it). */
const row = (e: ContextEntry): unknown[] => {
  const { mode, size, mtimeMs, ctimeMs, atimeMs, ino, dev, uid, gid, nlink } = e.stat;
  return [
    e.rel,
    e.type,
    e.linkTarget,
    mode,
    size,
    mtimeMs,
    ctimeMs,
    e.type === 'file' ? atimeMs : 0,
    ino,
    dev,
    uid,
    gid,
    nlink,
  ];
};

/** A plain recursive walk: readdir, sort, lstat. */
function reference(root: string, rel = ''): unknown[][] {
  const out: unknown[][] = [];
  for (const n of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const st = lstatSync(join(root, r));
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
    const link = st.isSymbolicLink() ? readlinkSync(join(root, r)) : undefined;
    const { mode, size, mtimeMs, ctimeMs, atimeMs, ino, dev, uid, gid, nlink } = st;
    out.push([r, type, link, mode, size, mtimeMs, ctimeMs, type === 'file' ? atimeMs : 0, ino, dev, uid, gid, nlink]);
    if (st.isDirectory()) out.push(...reference(root, r));
  }
  return out;
}

describe('context walk in a worker thread', () => {
  it('gives what a walk on the calling thread gives, and what a recursive walk gives', () => {
    const ref = reference(dir);
    expect(ref.length).toBeGreaterThan(3600);
    expect([...walkBelow('', dir, NONE, false)].map(row)).toEqual(ref);
    expect([...walkBelow('', dir, NONE, EARLY)].map(row)).toEqual(ref);
    // handed over deep in the tree, with frames half done
    expect([...walkBelow('', dir, NONE, { after: 777, wait: true, start: startWorker })].map(row)).toEqual(ref);
    // a subdirectory's walk: paths stay relative to the context
    const sub = ref.filter((r) => String(r[0]).startsWith('a1/'));
    expect([...walkBelow('a1', join(dir, 'a1'), NONE, EARLY)].map(row)).toEqual(sub);
  });

  it('applies .dockerignore the same way on both threads', async () => {
    for (const ignore of ['a1\n**/f1*.txt\n', 'a*\n!a0/b 2/f7.txt\n!a2/Z\n', '**/b 3\n!**/b 3/f29*\n']) {
      writeFileSync(join(dir, '.dockerignore'), ignore);
      try {
        const ctx = await BuildContext.openDir(dir);
        const here = [...ctx.entries('', false)].map(row);
        expect(here.length).toBeGreaterThan(4);
        expect([...ctx.entries('', EARLY)].map(row)).toEqual(here);
        await ctx.close();
      } finally {
        rmSync(join(dir, '.dockerignore'));
      }
    }
  });

  it('fails where the walk on the calling thread fails, with the same error; never enters a pruned directory', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'tsbuild-walk-bad-'));
    try {
      for (let f = 0; f < 50; f++) writeFileSync(join(bad, `f${f}`), '');
      // a directory whose path is longer than PATH_MAX: made one step at a time, its readdir fails
      const part = 'd'.repeat(250);
      execFileSync('bash', [
        '-c',
        `cd "$1" && mkdir deep && cd deep && for i in $(seq 18); do mkdir ${part} && cd ${part}; done`,
        '-',
        bad,
      ]);
      const failure = (worker: WalkWorkerUse | false): unknown => {
        const seen: string[] = [];
        try {
          for (const e of walkBelow('', bad, NONE, worker)) seen.push(e.rel);
        } catch (e) {
          const x = e as NodeJS.ErrnoException;
          return { seen: seen.length, code: x.code, syscall: x.syscall, message: x.message };
        }
        return 'no error';
      };
      const here = failure(false);
      expect(here).toMatchObject({ code: 'ENAMETOOLONG' });
      expect(failure(EARLY)).toEqual(here);
      // ignored without exceptions: neither thread goes in
      writeFileSync(join(bad, '.dockerignore'), 'deep\n');
      const ctx = await BuildContext.openDir(bad);
      expect([...ctx.entries('', EARLY)].map((e) => e.rel)).toHaveLength(52);
      await ctx.close();
    } finally {
      execFileSync('rm', ['-rf', bad]);
    }
  });

  it('stops its worker when the reader stops early, and walks again after', () => {
    const it = walkBelow('', dir, NONE, EARLY);
    const head = [it.next(), it.next(), it.next()].map((r) => (r.value as ContextEntry).rel);
    it.return(undefined);
    expect(head).toEqual(
      reference(dir)
        .slice(0, 3)
        .map((r) => r[0]),
    );
    expect([...walkBelow('', dir, NONE, EARLY)].length).toBe(reference(dir).length);
  });
});
