// Parallel gzip, as pigz does it: the input is cut into ~1 MiB chunks, each deflated independently on libuv's
// thread pool (zlib's async calls, so all cores work), non-final chunks ending on a byte boundary (Z_SYNC_FLUSH),
// the last one with Z_FINISH; the raw deflate pieces are concatenated in order behind one gzip header, and the
// trailer carries the CRC32 of the whole input (zlib.crc32, computed incrementally) and its size. A chunk whose
// sample does not compress is stored (level 0) rather than squeezed. The result is one standard gzip member.
import { Readable } from 'node:stream';
import { availableParallelism } from 'node:os';
import { constants, crc32, deflateRaw } from 'node:zlib';
import type { Digest } from '../../oci/index.js';
import { compressFileChunks } from './file-chunks.js';

export interface ParallelGzipOptions {
  level?: number;
  chunkSize?: number;
  /** Chunks in flight (default: twice the cores). */
  parallel?: number;
  /**
   * What the input must be (a stored layer's diffID and size): checked as the bytes are read, and the gzip never
   * ends (its trailer is not produced) when they differ, so nothing made from damaged content is committed.
   */
  expect?: { digest: Digest; size?: number };
}

const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
const SAMPLE = 64 * 1024;

/** Stored deflate blocks (BTYPE 00) for `buf`, byte-aligned: 5-byte block headers around views of the input. */
function storedBlocks(buf: Buffer, last: boolean): Buffer[] {
  const out: Buffer[] = [];
  const MAX = 65535;
  if (buf.length === 0) {
    out.push(Buffer.from([last ? 1 : 0, 0, 0, 0xff, 0xff]));
    return out;
  }
  for (let off = 0; off < buf.length; off += MAX) {
    const n = Math.min(MAX, buf.length - off);
    const final = last && off + n >= buf.length;
    const h = Buffer.allocUnsafe(5);
    h[0] = final ? 1 : 0;
    h.writeUInt16LE(n, 1);
    h.writeUInt16LE(~n & 0xffff, 3);
    out.push(h, buf.subarray(off, off + n));
  }
  return out;
}

function deflateChunk(buf: Buffer, level: number, last: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflateRaw(
      buf,
      { level, finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH, memLevel: 8 },
      (err, out) => (err ? reject(err) : resolve(out)),
    );
  });
}

/** Level for a chunk: 0 (stored) when a level-1 sample of it shrinks by less than 3%. */
async function levelFor(buf: Buffer, level: number): Promise<number> {
  if (level === 0 || buf.length < SAMPLE * 2) return level;
  const sample = buf.subarray(0, SAMPLE);
  const out = await new Promise<Buffer>((resolve, reject) =>
    deflateRaw(sample, { level: 1 }, (err, o) => (err ? reject(err) : resolve(o))),
  );
  return out.length > sample.length * 0.97 ? 0 : level;
}

async function* rechunk(src: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let len = 0;
  for await (const c of src) {
    let chunk = c;
    while (len + chunk.length >= size) {
      const need = size - len;
      parts.push(chunk.subarray(0, need));
      yield Buffer.concat(parts, size);
      parts = [];
      len = 0;
      chunk = chunk.subarray(need);
    }
    if (chunk.length > 0) {
      parts.push(chunk);
      len += chunk.length;
    }
  }
  if (len > 0) yield Buffer.concat(parts, len);
}

async function* gzipGen(src: AsyncIterable<Buffer>, opts: ParallelGzipOptions): AsyncGenerator<Buffer> {
  const level = opts.level ?? 6;
  const chunkSize = opts.chunkSize ?? 1 << 20;
  const window = opts.parallel ?? Math.max(2, availableParallelism() * 2);
  yield HEADER;
  let crc = 0;
  let total = 0;
  const queue: Promise<Buffer>[] = [];
  const it = rechunk(src, chunkSize)[Symbol.asyncIterator]();
  let next = await it.next();
  while (!next.done) {
    const buf = next.value;
    next = await it.next();
    const last = next.done === true;
    crc = crc32(buf, crc);
    total += buf.length;
    const p = levelFor(buf, level).then((l) =>
      l === 0 ? Buffer.concat(storedBlocks(buf, last)) : deflateChunk(buf, l, last),
    );
    p.catch(() => undefined);
    queue.push(p);
    while (queue.length >= window) yield await queue.shift()!;
  }
  if (total === 0) queue.push(deflateChunk(Buffer.alloc(0), level, true));
  while (queue.length > 0) yield await queue.shift()!;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(total % 0x100000000, 4);
  yield trailer;
}

/**
 * Gzip of a file, on all cores, as chunks for a consumer that writes each before asking for the next. Input is
 * read into a small pool of reused buffers (one per chunk in flight), so memory stays flat whatever the size.
 */
export async function* parallelGzipFile(path: string, opts: ParallelGzipOptions = {}): AsyncGenerator<Buffer> {
  const level = opts.level ?? 6;
  let crc = 0;
  let size = 0;
  yield HEADER;
  const pieces = compressFileChunks(
    path,
    {
      chunkSize: opts.chunkSize ?? 1 << 20,
      window: opts.parallel ?? Math.max(2, availableParallelism() * 2),
      expect: opts.expect,
    },
    (data, last) => {
      crc = crc32(data, crc);
      size += data.length;
      return levelFor(data, level).then((l) =>
        l === 0 ? storedBlocks(data, last) : deflateChunk(data, l, last).then((b) => [b]),
      );
    },
  );
  for await (const out of pieces) for (const piece of out) yield piece;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 0x100000000, 4);
  yield trailer;
}

/** A gzip stream of `src`, compressed on all cores. */
export function parallelGzip(src: AsyncIterable<Buffer>, opts: ParallelGzipOptions = {}): Readable {
  return Readable.from(gzipGen(src, opts), { objectMode: false, highWaterMark: 1 << 20 });
}
