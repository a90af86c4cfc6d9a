import { describe, expect, it } from 'vitest';
import { parseAnnotations } from './annotations.js';

const amd64 = { os: 'linux', architecture: 'amd64' };

describe('--annotation', () => {
  it('no prefix is the manifest; manifest:, index:, manifest-descriptor: go where they say', () => {
    expect(
      parseAnnotations(
        ['a=1', 'manifest:b=2', 'index:c=3', 'manifest-descriptor:d=4', 'org.example:key=5', 'e=x=y'],
        amd64,
      ),
    ).toEqual({
      manifest: { a: '1', b: '2', 'org.example:key': '5', e: 'x=y' },
      index: { c: '3' },
      manifestDescriptor: { d: '4' },
    });
  });

  it('[platform] keeps an annotation for that platform only', () => {
    expect(parseAnnotations(['manifest[linux/amd64]:a=1', 'manifest[linux/arm64]:b=2'], amd64).manifest).toEqual({
      a: '1',
    });
  });

  it('refuses what it cannot place, naming it', () => {
    expect(() => parseAnnotations(['index-descriptor:a=1'], amd64)).toThrow(/"index-descriptor" annotations/);
    expect(() => parseAnnotations(['layer[linux/amd64]:a=1'], amd64)).toThrow(/"layer" annotations/);
    expect(() => parseAnnotations(['novalue'], amd64)).toThrow(/expected KEY=VALUE/);
    expect(() => parseAnnotations(['manifest[bad/x/y/z]:a=1'], amd64)).toThrow(/platform/);
  });
});
