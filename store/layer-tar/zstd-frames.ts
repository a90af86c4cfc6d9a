// zstd decompression frame by frame, frames decoded in parallel (Node 20, where zlib has no zstd). A layer tsbuild
// pushed is a run of independent frames of a few MiB each (zstd.ts); fzstd, the streaming pure-JavaScript decoder,
// decodes those several times slower than libzstd. This splits the compressed stream at frame boundaries (RFC 8878
// §3.1.1: a header, blocks whose headers give their sizes, an optional checksum), hands each whole frame to
// libzstd on libuv's thread pool, and writes the results in order, a bounded number in flight.
//
// Only frames whose output is bounded are decoded whole: a block yields at most 128 KiB (Block_Maximum_Size), so
// a frame of N blocks yields at most N × 128 KiB, and a frame with more blocks than `maxFrame` allows (one frame for
// a whole multi-gigabyte layer, as `zstd` and BuildKit write) switches the rest of the stream to the streaming
// decoder. Memory stays bounded either way, whatever the input claims.
import { Transform, type TransformCallback } from 'node:stream';

const MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 << 10;

export interface FramedZstdOptions {
  /** One whole frame decoded (off the main thread). */
  decodeFrame(frame: Buffer): Promise<Buffer>;
  /** The streaming decoder the rest of the stream goes to once a frame is too big to decode whole. */
  streaming(): Transform;
  /** Most output bytes of a frame decoded whole. */
  maxFrame: number;
  /** Frames in flight. */
  parallel: number;
}

const damaged = (why: string): Error => new Error(`damaged zstd data: ${why}`);

/** Length of a frame header (after the magic) from its descriptor byte, per RFC 8878 §3.1.1.1. */
function headerLength(fhd: number): number {
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dict = [0, 1, 2, 4][fhd & 3];
  const fcs = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag];
  return 1 + (single ? 0 : 1) + dict + fcs;
}

/**
 * A decompressing stream for zstd input (any number of frames, any chunking), whole frames decoded in parallel
 * while they are small, the streaming decoder after the first that is not.
 */
export function createFramedZstdDecompress(opts: FramedZstdOptions): Transform {
  const maxBlocks = Math.max(1, Math.floor(opts.maxFrame / BLOCK_MAX));
  const queue: Promise<Buffer>[] = [];
  // between frames: the bytes of the next frame's start, until its header is whole
  let head: Buffer = Buffer.alloc(0);
  // inside a frame: its bytes so far, and where the parse is
  let frame: Buffer[] = [];
  let inFrame = false;
  let checksum = false;
  let blocks = 0;
  let skip = 0; // bytes of the current block (or checksum, or skippable frame) still to pass
  let skippable = false;
  let last = false; // the current frame's last block has begun
  let blockHead: number[] = [];
  let stream: Transform | undefined;

  const t = new Transform({
    readableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      feed(chunk).then(() => cb(), cb);
    },
    flush(cb: TransformCallback) {
      finish().then(() => cb(), cb);
    },
  });

  async function drain(keep: number): Promise<void> {
    while (queue.length > keep) t.push(await queue.shift()!);
  }

  /** From now on every byte goes to the streaming decoder, after the frames already queued. */
  async function toStreaming(pending: Buffer[]): Promise<void> {
    await drain(0);
    const s = opts.streaming();
    stream = s;
    s.on('data', (c: Buffer) => t.push(c));
    s.on('error', (e) => t.destroy(e));
    for (const p of pending) if (p.length > 0) await write(s, p);
  }

  function write(s: Transform, c: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      s.write(c, (e) => (e ? reject(e) : resolve()));
    });
  }

  function endFrame(): void {
    const bytes = Buffer.concat(frame);
    const p = opts.decodeFrame(bytes).catch((e: unknown) => {
      throw damaged((e as Error).message);
    });
    p.catch(() => undefined);
    queue.push(p);
    frame = [];
    inFrame = false;
  }

  async function feed(input: Buffer): Promise<void> {
    if (stream) return write(stream, input);
    let c = input;
    while (c.length > 0) {
      if (!inFrame) {
        head = head.length > 0 ? Buffer.concat([head, c]) : c;
        c = Buffer.alloc(0);
        if (head.length < 4) return;
        const magic = head.readUInt32LE(0);
        if ((magic & 0xfffffff0) === 0x184d2a50) {
          if (head.length < 8) return;
          skippable = true;
          skip = head.readUInt32LE(4);
          inFrame = skip > 0;
          c = head.subarray(8);
          head = Buffer.alloc(0);
          continue;
        }
        if (magic !== MAGIC) throw damaged('not a zstd frame');
        if (head.length < 5) return;
        const hl = 4 + headerLength(head[4]);
        if (head.length < hl) return;
        checksum = ((head[4] >> 2) & 1) === 1;
        skippable = false;
        blocks = 0;
        last = false;
        skip = 0;
        blockHead = [];
        inFrame = true;
        frame = [head.subarray(0, hl)];
        c = head.subarray(hl);
        head = Buffer.alloc(0);
        continue;
      }
      // inside a frame: pass block contents, read block headers byte by byte (they may straddle chunks)
      let i = 0;
      let ended = false;
      while (i < c.length) {
        if (skip > 0) {
          const n = Math.min(skip, c.length - i);
          skip -= n;
          i += n;
          if (skip === 0 && (last || skippable)) {
            ended = true;
            break;
          }
          continue;
        }
        if (last || skippable) {
          ended = true;
          break;
        }
        blockHead.push(c[i++]);
        if (blockHead.length < 3) continue;
        const h = blockHead[0] | (blockHead[1] << 8) | (blockHead[2] << 16);
        blockHead = [];
        const type = (h >> 1) & 3;
        if (type === 3) throw damaged('reserved block type');
        last = (h & 1) === 1;
        skip = (type === 1 ? 1 : h >>> 3) + (last && checksum ? 4 : 0);
        if (++blocks > maxBlocks) {
          // too big to decode whole: this frame's bytes so far, the rest of this chunk, and all that follows
          const pending = [...frame, c];
          frame = [];
          inFrame = false;
          await toStreaming(pending);
          return;
        }
        if (skip === 0 && last) {
          ended = true;
          break;
        }
      }
      if (!skippable) frame.push(c.subarray(0, i));
      c = c.subarray(i);
      if (ended) {
        if (skippable) inFrame = false;
        else {
          endFrame();
          await drain(opts.parallel - 1);
        }
      }
    }
  }

  async function finish(): Promise<void> {
    if (stream) {
      const s = stream;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.once('end', resolve);
        s.end();
      });
      return;
    }
    if (inFrame || head.length > 0) throw damaged('unexpected end of input');
    await drain(0);
  }

  return t;
}
