// Layer decompression chosen by magic bytes, not by media type (registries mislabel): gzip, zstd or plain tar.
// zstd: Node's zlib where it has it (22.15+), else a package (layer-tar/zstd.ts).
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** Reads up to `n` bytes from the front of `s` and puts them back. */
export async function peek(s: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const c = s.read() as Buffer | null;
    if (c !== null) {
      chunks.push(c);
      len += c.length;
      continue;
    }
    if (s.readableEnded || s.destroyed) break;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        s.off('readable', done);
        s.off('end', done);
        s.off('error', fail);
        resolve();
      };
      const fail = (e: Error): void => {
        s.off('readable', done);
        s.off('end', done);
        reject(e);
      };
      s.once('readable', done);
      s.once('end', done);
      s.once('error', fail);
    });
    if (s.readableEnded) break;
  }
  const buf = Buffer.concat(chunks);
  if (buf.length > 0) s.unshift(buf);
  return buf;
}

/** The uncompressed tar stream of a layer blob stream. */
export async function decompressed(src: Readable): Promise<Readable> {
  const head = await peek(src, 4);
  const kind = detectCompression(head);
  if (kind === 'none') return src;
  const inflate =
    kind === 'zstd'
      ? (await import('./layer-tar/zstd.js')).createZstdDecompress()
      : createGunzip({ chunkSize: 1 << 20 });
  src.on('error', (e) => inflate.destroy(e));
  inflate.on('error', () => src.destroy());
  return src.pipe(inflate);
}
