// Applies a layer blob stream (gzip, zstd or plain tar) onto a plain root filesystem: entries are written, whiteouts
// delete what lower layers put there. Used by `--output type=local` and by tests.
import type { Readable } from 'node:stream';
import { decompressed } from '../decompress.js';
import { unpackTar, type UnpackStats } from './unpack.js';

export async function applyLayer(src: Readable, dest: string, digest?: string): Promise<UnpackStats> {
  const tar = await decompressed(src);
  return unpackTar(tar, dest, { mode: 'apply', ...(digest ? { digest } : {}) });
}
