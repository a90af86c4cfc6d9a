import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashMemo, type MemoKey } from './hash-memo.js';

const key = (i: number, over: Partial<MemoKey> = {}): MemoKey => ({
  dev: 2049,
  ino: 1_000_000 + ((i * 7919) % 100_003),
  size: i % 4096,
  mtimeMs: 1_700_000_000_000 + i * 1.25,
  ctimeMs: 1_700_000_000_500 + i * 0.5,
  mode: 0o100644,
  ...over,
});
const hex = (i: number): string => i.toString(16).padStart(64, '0');

describe('HashMemo', () => {
  it('finds what it was given, across merges and a save and load, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashmemo-'));
    try {
      const file = join(dir, 'memo.bin');
      const a = new HashMemo(file);
      await a.load();
      // more than one merge's worth, in an order unrelated to the key order
      for (let i = 0; i < 70_000; i++) a.set(key(i), hex(i));
      for (const i of [0, 1, 32_767, 32_768, 65_536, 69_999]) expect(a.get(key(i))).toBe(hex(i));
      await a.save();
      // a record is 76 bytes after an 8-byte header: no paths, no JSON
      expect(readFileSync(file).length).toBe(8 + 70_000 * 76);

      const b = new HashMemo(file);
      await b.load();
      expect(b.size).toBe(70_000);
      for (let i = 0; i < 70_000; i += 97) expect(b.get(key(i))).toBe(hex(i));
      // any field that differs is another file (or the same file changed)
      for (const over of [{ dev: 1 }, { ino: 5 }, { size: 99_999 }, { mtimeMs: 1 }, { ctimeMs: 1 }, { mode: 0o100755 }])
        expect(b.get(key(3, over))).toBeUndefined();
      // a changed file's new hash replaces the old one when saved again
      b.set(key(3), hex(42));
      await b.save();
      const c = new HashMemo(file);
      await c.load();
      expect(c.size).toBe(70_000);
      expect(c.get(key(3))).toBe(hex(42));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('looks up in walk order through the next-record hint, and stays right out of order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashmemo-'));
    try {
      const file = join(dir, 'memo.bin');
      // inodes rising with i, as a tree written in name order has them: the keys' order is the walk's
      const inOrder = (i: number): MemoKey => key(i, { ino: 5_000 + 2 * i });
      const a = new HashMemo(file);
      for (let i = 0; i < 1_000; i++) a.set(inOrder(i), hex(i));
      await a.save();
      const b = new HashMemo(file);
      await b.load();
      for (let i = 0; i < 1_000; i++) expect(b.get(inOrder(i))).toBe(hex(i));
      // a gap between two records (an inode in between) is no record, and the next one after it is found
      expect(b.get(key(500, { ino: 5_000 + 2 * 500 + 1 }))).toBeUndefined();
      expect(b.get(inOrder(501))).toBe(hex(501));
      expect(b.get(inOrder(501))).toBe(hex(501));
      for (let i = 999; i >= 0; i -= 7) expect(b.get(inOrder(i))).toBe(hex(i));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ignores a file it did not write (an old JSON memo, a torn file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hashmemo-'));
    try {
      const file = join(dir, 'memo.bin');
      writeFileSync(file, JSON.stringify({ a: { s: 1 } }));
      const m = new HashMemo(file);
      await m.load();
      expect(m.size).toBe(0);
      writeFileSync(file, Buffer.concat([Buffer.from('tsbmemo1'), Buffer.alloc(75)]));
      await m.load();
      expect(m.size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
