// The stat→content-hash memo of a context, as one sorted binary file: fixed-size records (device, inode, size,
// mtime, ctime, mode → sha256), no paths. A million files take one Buffer of ~76 MB instead of a million JS objects
// and a JSON text of every path; a lookup is a binary search. Records new in this build are kept apart (a Map,
// merged into the sorted Buffer when it grows) and the whole is rewritten (atomic rename) when the context closes.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What identifies an unchanged file: the same inode with the same size, times and mode. */
export interface MemoKey {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  mode: number;
}

const MAGIC = Buffer.from('tsbmemo1');
const KEY = 5 * 8 + 4;
const HASH = 32;
const RECORD = KEY + HASH;
/** New records kept apart (a Map of short strings, a few MB) before they are merged into the sorted Buffer. */
const MERGE_AT = 32_768;
/** Beyond this many records, those not used by the build that saves the memo are dropped. */
const CAP = 4_000_000;

export class HashMemo {
  /** Sorted records (by their key bytes). */
  private base: Buffer = Buffer.alloc(0);
  /** Records added since the last merge: key bytes (latin1) → hash (hex); at most MERGE_AT of them. */
  private added = new Map<string, string>();
  /** Which base records a lookup hit (dropped first when the memo is over CAP). */
  private used = new Uint8Array(0);
  private dirty = false;
  /** The base record the last lookup found (a hint, checked before the binary search). */
  private lastFound = -1;

  constructor(private readonly file: string | undefined) {}

  async load(): Promise<void> {
    if (!this.file) return;
    let buf: Buffer;
    try {
      buf = await readFile(this.file);
    } catch {
      return;
    }
    // anything else (an old JSON memo, a torn file) is ignored: the memo only saves work
    if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return;
    if ((buf.length - MAGIC.length) % RECORD !== 0) return;
    this.base = buf.subarray(MAGIC.length);
    this.used = new Uint8Array(this.base.length / RECORD);
  }

  get size(): number {
    return this.base.length / RECORD + this.added.size;
  }

  /** The content hash (hex) recorded for a file with this key, or undefined. */
  get(k: MemoKey): string | undefined {
    const key = encodeKey(k);
    const i = this.find(key);
    if (i >= 0) {
      this.used[i] = 1;
      return this.base.toString('hex', i * RECORD + KEY, (i + 1) * RECORD);
    }
    return this.added.get(key.toString('latin1'));
  }

  set(k: MemoKey, hex: string): void {
    this.added.set(encodeKey(k).toString('latin1'), hex);
    this.dirty = true;
    // bounded: the new records join the sorted Buffer in batches
    if (this.added.size >= MERGE_AT) this.merge();
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    this.merge();
    let out = this.base;
    const n = out.length / RECORD;
    if (n > CAP) {
      const keep: Buffer[] = [];
      for (let i = 0; i < n; i++) if (this.used[i]) keep.push(out.subarray(i * RECORD, (i + 1) * RECORD));
      out = Buffer.concat(keep);
    }
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.concat([MAGIC, out]));
    await rename(tmp, this.file);
    this.dirty = false;
  }

  /** Index of the base record with `key`, or -1. */
  private find(key: Buffer): number {
    // a walk meets a directory's files in name order, and a tree written in that order (a checkout, an unpack) has
    // their inodes in it too: the record after the last one found is most often the next one asked for
    const next = (this.lastFound + 1) * RECORD;
    if (next + KEY <= this.base.length && this.base.compare(key, 0, KEY, next, next + KEY) === 0)
      return ++this.lastFound;
    const i = this.search(key);
    if (i >= 0) this.lastFound = i;
    return i;
  }

  private search(key: Buffer): number {
    let lo = 0;
    let hi = this.base.length / RECORD - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.base.compare(key, 0, KEY, mid * RECORD, mid * RECORD + KEY);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Sorts the added records and merges them into the base (a record already there keeps its place). */
  private merge(): void {
    if (this.added.size === 0) return;
    const keys = [...this.added.keys()].sort();
    const oldN = this.base.length / RECORD;
    const out = Buffer.allocUnsafe((oldN + keys.length) * RECORD);
    const used = new Uint8Array(oldN + keys.length);
    let i = 0;
    let j = 0;
    let o = 0;
    const putNew = (k: string): void => {
      out.write(k, o * RECORD, KEY, 'latin1');
      out.write(this.added.get(k)!, o * RECORD + KEY, HASH, 'hex');
      used[o++] = 1;
    };
    while (i < oldN || j < keys.length) {
      if (j >= keys.length) {
        used[o] = this.used[i]!;
        this.base.copy(out, o++ * RECORD, i * RECORD, ++i * RECORD);
        continue;
      }
      const k = Buffer.from(keys[j]!, 'latin1');
      const c = i < oldN ? k.compare(this.base, i * RECORD, i * RECORD + KEY) : -1;
      if (c < 0) putNew(keys[j++]!);
      else if (c === 0) {
        putNew(keys[j++]!); // the newer hash wins
        i++;
      } else {
        used[o] = this.used[i]!;
        this.base.copy(out, o++ * RECORD, i * RECORD, ++i * RECORD);
      }
    }
    this.base = out.subarray(0, o * RECORD);
    this.used = used.subarray(0, o);
    this.lastFound = -1;
    this.added.clear();
  }
}

/** Big-endian doubles: latin1 strings of the keys sort as the key bytes do (Buffer.compare). */
function encodeKey(k: MemoKey): Buffer {
  const b = Buffer.allocUnsafe(KEY);
  b.writeDoubleBE(k.dev, 0);
  b.writeDoubleBE(k.ino, 8);
  b.writeDoubleBE(k.size, 16);
  b.writeDoubleBE(k.mtimeMs, 24);
  b.writeDoubleBE(k.ctimeMs, 32);
  b.writeUInt32BE(k.mode >>> 0, 40);
  return b;
}
