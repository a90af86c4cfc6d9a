// The frame splitter: frames decoded whole and in order whatever the chunking, skippable frames passed over, a
// frame too big to decode whole handed with all that follows to the streaming decoder, truncated input refused.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createFramedZstdDecompress } from './zstd-frames.js';
import { createZstdDecompress, parallelZstd } from './zstd.js';

const require = createRequire(import.meta.url);
const { Decoder, Encoder } = require('@toondepauw/node-zstd') as {
  Decoder: new () => { decode(b: Buffer): Promise<Buffer> };
  Encoder: new (l: number) => { encodeSync(b: Buffer): Buffer };
};
const decoder = new Decoder();

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(Buffer.from(c));
  return Buffer.concat(out);
}
const pieces = (b: Buffer, n: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
};

/** Decodes `z` in pieces of `piece` bytes; counts the frames decoded whole and the streaming decoders made. */
async function decode(z: Buffer, piece: number, maxFrame = 16 << 20) {
  const seen = { whole: 0, streaming: 0 };
  const d = createFramedZstdDecompress({
    decodeFrame: (f) => {
      seen.whole++;
      return decoder.decode(f);
    },
    streaming: () => {
      seen.streaming++;
      return createZstdDecompress();
    },
    maxFrame,
    parallel: 3,
  });
  const out = await collect(Readable.from(pieces(z, piece)).pipe(d));
  return { out, ...seen };
}

const text = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `line ${i} of a layer\n`).join(''));
const data = Buffer.concat([text, randomBytes(700_000), text]);

// generous: the byte-by-byte runs are many stream writes, and a loaded machine is slow at them
describe('zstd frames decoded whole', { timeout: 30_000 }, () => {
  it('decodes each frame whole, in order, however the input is cut', async () => {
    const z = await collect(parallelZstd(Readable.from([data]), { chunkSize: 300_000 }));
    const frames = Math.ceil(data.length / 300_000);
    for (const piece of [4099, 1 << 20]) {
      const r = await decode(z, piece);
      expect(r.out.equals(data)).toBe(true);
      expect(r).toMatchObject({ whole: frames, streaming: 0 });
    }
    // byte by byte: every frame and block header split across pieces
    const small = data.subarray(0, 200_000);
    const zs = await collect(parallelZstd(Readable.from([small]), { chunkSize: 50_000 }));
    const r = await decode(zs, 1);
    expect(r.out.equals(small)).toBe(true);
    expect(r).toMatchObject({ whole: 4, streaming: 0 });
  });

  it('passes over skippable frames and decodes an empty frame', async () => {
    const skip = Buffer.alloc(8 + 5);
    skip.writeUInt32LE(0x184d2a53, 0);
    skip.writeUInt32LE(5, 4);
    const empty = Buffer.alloc(8);
    empty.writeUInt32LE(0x184d2a50, 0);
    const part = text.subarray(0, 50_000);
    const a = new Encoder(3).encodeSync(part);
    const z = Buffer.concat([skip, a, empty, new Encoder(3).encodeSync(Buffer.alloc(0)), a]);
    for (const piece of [1, 7, 1 << 20]) {
      const r = await decode(z, piece);
      expect(r.out.equals(Buffer.concat([part, part]))).toBe(true);
      expect(r).toMatchObject({ whole: 3, streaming: 0 });
    }
  });

  it('streams the rest once a frame may yield more than the limit', async () => {
    // 300 kB frames (3 blocks) decoded whole under a 512 KiB limit, then one frame of 1.5 MB: streamed
    const small = await collect(parallelZstd(Readable.from([data.subarray(0, 600_000)]), { chunkSize: 300_000 }));
    const big = new Encoder(3).encodeSync(data.subarray(600_000));
    for (const piece of [5, 65536]) {
      const r = await decode(Buffer.concat([small, big, small]), piece, 512 << 10);
      expect(r.out.equals(Buffer.concat([data, data.subarray(0, 600_000)]))).toBe(true);
      expect(r).toMatchObject({ whole: 2, streaming: 1 });
    }
  });

  it('refuses truncated input and bytes that are not zstd', async () => {
    const z = new Encoder(3).encodeSync(data);
    await expect(decode(z.subarray(0, z.length - 10), 4096)).rejects.toThrow(/damaged zstd data/);
    await expect(decode(Buffer.from('not zstd at all'), 4)).rejects.toThrow(/damaged zstd data/);
  });
});
