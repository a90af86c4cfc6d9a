// zstd for layers, streaming both ways. Node's own zlib has zstd from 22.15 (createZstdDecompress, zstdCompress);
// it is used when present. On older Node (20) the fallbacks are two npm packages (docs/performance.md says why):
// @toondepauw/node-zstd (libzstd 1.5.7 through napi-rs, prebuilt per platform as optional dependencies, nothing
// downloaded or compiled at install) compresses and decodes whole frames of bounded size (zstd-frames.ts), and fzstd
// (pure JavaScript, streaming) decodes the rest.
//
// Compression works as the parallel gzip does (gzip.ts): the input is cut into chunks, each compressed as an
// independent zstd frame on libuv's thread pool, and the frames are written in order. Concatenated frames are one
// valid zstd stream (RFC 8878 §3.1), which containerd, skopeo and the zstd CLI decode as a whole.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import type { Digest } from '../../oci/index.js';
import { compressFileChunks } from './file-chunks.js';
import { createFramedZstdDecompress } from './zstd-frames.js';

export const ZSTD_DEFAULT_LEVEL = 3;
/** Input per frame: big enough that a frame's ratio is within a percent of one frame for the whole layer. */
const CHUNK = 4 << 20;
/** Most output of one frame decoded whole (zstd-frames.ts): several of our frames, far from a whole layer. */
const MAX_WHOLE_FRAME = 16 << 20;

const require = createRequire(import.meta.url);

/** Node ≥ 22.15's zstd in zlib (absent from @types/node 20, hence looked up by name). */
interface NodeZstd {
  zstdCompress(buf: Buffer, opts: { params: Record<number, number> }, cb: (e: Error | null, out: Buffer) => void): void;
  createZstdDecompress(): Transform;
  constants: { ZSTD_c_compressionLevel: number };
}
function nodeZstd(): NodeZstd | undefined {
  const z = zlib as unknown as Partial<NodeZstd>;
  return typeof z.zstdCompress === 'function' && typeof z.createZstdDecompress === 'function'
    ? (z as NodeZstd)
    : undefined;
}

interface Encoder {
  encode(data: Buffer): Promise<Buffer>;
}
const encoders = new Map<number, Encoder>();

/** One zstd frame of `buf` at `level`, compressed off the main thread. */
export function zstdFrame(buf: Buffer, level = ZSTD_DEFAULT_LEVEL): Promise<Buffer> {
  const node = nodeZstd();
  if (node) {
    return new Promise((resolve, reject) =>
      node.zstdCompress(buf, { params: { [node.constants.ZSTD_c_compressionLevel]: level } }, (e, out) =>
        e ? reject(e) : resolve(out),
      ),
    );
  }
  let enc = encoders.get(level);
  if (!enc) {
    const { Encoder } = require('@toondepauw/node-zstd') as { Encoder: new (level: number) => Encoder };
    enc = new Encoder(level);
    encoders.set(level, enc);
  }
  return enc.encode(buf);
}

/** A decompressing stream for zstd input (any number of frames, any chunking). */
export function createZstdDecompress(): Transform {
  const node = nodeZstd();
  if (node) {
    const d = node.createZstdDecompress();
    // zlib's messages ("Unknown frame descriptor") do not say which decoder failed either
    d.prependListener('error', (e: Error) => {
      if (!e.message.startsWith('damaged zstd data')) e.message = `damaged zstd data: ${e.message}`;
    });
    return d;
  }
  const decoder = libzstdDecoder();
  if (!decoder) return fzstdDecompress();
  return createFramedZstdDecompress({
    decodeFrame: (frame) => decoder.decode(frame),
    streaming: fzstdDecompress,
    maxFrame: MAX_WHOLE_FRAME,
    parallel: Math.max(2, availableParallelism()),
  });
}

interface Decoder {
  decode(data: Buffer): Promise<Buffer>;
}
let decoder: Decoder | null | undefined;
/** libzstd's whole-frame decoder from the package that compresses; null if it does not load here. */
function libzstdDecoder(): Decoder | null {
  if (decoder === undefined) {
    try {
      const { Decoder } = require('@toondepauw/node-zstd') as { Decoder: new () => Decoder };
      decoder = new Decoder();
    } catch {
      decoder = null;
    }
  }
  return decoder;
}

/** fzstd's streaming decoder: any frame size, on the main thread. */
function fzstdDecompress(): Transform {
  const { Decompress } = require('fzstd') as {
    Decompress: new (ondata: (chunk: Uint8Array, final: boolean) => void) => {
      push(chunk: Uint8Array, final?: boolean): void;
    };
  };
  let d: InstanceType<typeof Decompress>;
  // fzstd's messages ("unexpected EOF") do not say which decoder failed
  const damaged = (e: unknown): Error => new Error(`damaged zstd data: ${(e as Error).message}`);
  const t = new Transform({
    readableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        d.push(chunk);
        cb();
      } catch (e) {
        cb(damaged(e));
      }
    },
    flush(cb: TransformCallback) {
      try {
        d.push(new Uint8Array(0), true);
        cb();
      } catch (e) {
        cb(damaged(e));
      }
    },
  });
  // fzstd hands out views of its window buffer, which it reuses: each is copied before it leaves
  d = new Decompress((chunk) => {
    if (chunk.length > 0) t.push(Buffer.from(chunk));
  });
  return t;
}

export interface ParallelZstdOptions {
  level?: number;
  chunkSize?: number;
  /** Frames in flight (default: one per core; a push compresses its layers at once, so the cores stay busy). */
  parallel?: number;
  /** What the input must be (a stored layer's diffID and size): no frame after a mismatch is produced. */
  expect?: { digest: Digest; size?: number };
}

/** zstd of a file, frames made on all cores, memory bounded by the frames in flight. */
export async function* parallelZstdFile(path: string, opts: ParallelZstdOptions = {}): AsyncGenerator<Buffer> {
  const level = opts.level ?? ZSTD_DEFAULT_LEVEL;
  yield* compressFileChunks(
    path,
    {
      chunkSize: opts.chunkSize ?? CHUNK,
      window: opts.parallel ?? Math.max(2, availableParallelism()),
      expect: opts.expect,
    },
    (data) => zstdFrame(data, level),
  );
}

/** zstd of a stream (a layer being recompressed from another compression), frames made on all cores. */
export async function* parallelZstd(
  src: AsyncIterable<Buffer>,
  opts: ParallelZstdOptions = {},
): AsyncGenerator<Buffer> {
  const level = opts.level ?? ZSTD_DEFAULT_LEVEL;
  const chunkSize = opts.chunkSize ?? CHUNK;
  const window = opts.parallel ?? Math.max(2, availableParallelism());
  const queue: Promise<Buffer>[] = [];
  let parts: Buffer[] = [];
  let len = 0;
  let any = false;
  const flush = (): void => {
    const p = zstdFrame(Buffer.concat(parts, len), level);
    p.catch(() => undefined);
    queue.push(p);
    parts = [];
    len = 0;
    any = true;
  };
  for await (const c of src) {
    let chunk = c;
    while (len + chunk.length >= chunkSize) {
      const need = chunkSize - len;
      parts.push(chunk.subarray(0, need));
      len += need;
      chunk = chunk.subarray(need);
      flush();
      while (queue.length >= window) yield await queue.shift()!;
    }
    if (chunk.length > 0) {
      parts.push(Buffer.from(chunk));
      len += chunk.length;
    }
  }
  if (len > 0 || !any) flush();
  while (queue.length > 0) yield await queue.shift()!;
}

/** A zstd stream of `src`. */
export function zstdStream(src: AsyncIterable<Buffer>, opts: ParallelZstdOptions = {}): Readable {
  return Readable.from(parallelZstd(src, opts), { objectMode: false, highWaterMark: 1 << 20 });
}
