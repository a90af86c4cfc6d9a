import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { EMPTY_LAYER_DIFF_ID, EMPTY_LAYER_GZIP, EMPTY_LAYER_GZIP_DIGEST } from './empty-layer.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('the empty layer', () => {
  it('is a gzip of the 1024-byte empty tar, with the digests BuildKit writes', () => {
    const tar = gunzipSync(EMPTY_LAYER_GZIP);
    expect(tar.length).toBe(1024);
    expect(tar.every((b) => b === 0)).toBe(true);
    expect(sha(tar)).toBe(EMPTY_LAYER_DIFF_ID);
    expect(sha(EMPTY_LAYER_GZIP)).toBe(EMPTY_LAYER_GZIP_DIGEST);
  });
});
