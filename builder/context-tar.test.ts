import { describe, expect, it } from 'vitest';
import { sniffContext } from './context-tar.js';

describe('sniffContext (what a stdin or URL context is, by content)', () => {
  it('knows the compressors by magic and a tar by ustar at 257; anything else is a Buildfile', () => {
    expect(sniffContext(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(sniffContext(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(sniffContext(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0]))).toBe('xz');
    expect(sniffContext(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe('zstd');
    const tar = Buffer.alloc(512);
    tar.write('ustar', 257);
    expect(sniffContext(tar)).toBe('tar');
    expect(sniffContext(Buffer.from('FROM busybox\nRUN true\n'))).toBe('text');
    expect(sniffContext(Buffer.alloc(0))).toBe('text');
  });
});
