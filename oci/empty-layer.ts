// The empty layer: what BuildKit commits for a RUN, COPY, ADD or WORKDIR that changes no file. Its tar is the two
// zero end-of-archive blocks; its gzip form is the one Go's compress/gzip writes for them (no name, no mtime, OS
// 255), so an image with empty layers has the same layer digests as BuildKit's (and shares the blob registries
// already hold under that digest).
import type { Digest } from './types.js';

/** sha256 of 1024 zero bytes. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef' as Digest;

/** The gzip blob BuildKit pushes for the empty layer. */
export const EMPTY_LAYER_GZIP = Buffer.from([
  0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x62, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x8c, 0x58, 0x00,
  0x08, 0x00, 0x00, 0xff, 0xff, 0x2e, 0xaf, 0xb5, 0xef, 0x00, 0x04, 0x00, 0x00,
]);

/** sha256 of EMPTY_LAYER_GZIP. */
export const EMPTY_LAYER_GZIP_DIGEST =
  'sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1' as Digest;
