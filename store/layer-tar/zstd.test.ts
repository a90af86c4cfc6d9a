// The layer zstd: frames made in parallel that decode as one stream (by this module's decoder and by magic-byte
// detection in decompress.ts), the input checked against its digest, and empty input.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../oci/index.js';
import { decompressed, detectCompression } from '../decompress.js';
import { createZstdDecompress, parallelZstd, parallelZstdFile } from './zstd.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

async function unzstd(z: Buffer, piece = 4093): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < z.length; i += piece) pieces.push(z.subarray(i, i + piece));
  return collect(Readable.from(pieces).pipe(createZstdDecompress()));
}

const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const text = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `line ${i} of a layer\n`).join(''));

describe('layer zstd', () => {
  it('compresses a file in independent frames that decode as one stream', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsbuild-zstd-'));
    dirs.push(dir);
    const path = join(dir, 'layer.tar');
    await writeFile(path, text);
    const z = await collect(
      parallelZstdFile(path, { chunkSize: 256 << 10, expect: { digest: sha(text), size: text.length } }),
    );
    expect(detectCompression(z)).toBe('zstd');
    expect(z.length).toBeLessThan(text.length / 4);
    // more than one frame: the magic appears again past the first
    expect(z.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 4)).toBeGreaterThan(0);
    expect((await unzstd(z)).equals(text)).toBe(true);
    expect((await collect(await decompressed(Readable.from([z])))).equals(text)).toBe(true);
  });

  it('refuses input that is not the expected layer, and makes an empty stream for an empty one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsbuild-zstd-'));
    dirs.push(dir);
    const path = join(dir, 'layer.tar');
    await writeFile(path, text);
    const wrong = `sha256:${'0'.repeat(64)}` as Digest;
    await expect(collect(parallelZstdFile(path, { expect: { digest: wrong } }))).rejects.toThrow(/damaged/);
    await writeFile(path, '');
    expect((await unzstd(await collect(parallelZstdFile(path)))).length).toBe(0);
  });

  it('compresses a stream at a given level, chunked however it arrives', async () => {
    const src = Readable.from([text.subarray(0, 1000), text.subarray(1000, 700_000), text.subarray(700_000)]);
    const z = await collect(parallelZstd(src, { level: 7, chunkSize: 300_000 }));
    expect((await unzstd(z, 65536)).equals(text)).toBe(true);
  });
});
