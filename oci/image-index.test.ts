import { describe, expect, it } from 'vitest';
import { makeImageIndex, platformDirName } from './image-index.js';
import { parsePlatformList } from './platform.js';
import { MediaType, type Descriptor, type Digest } from './types.js';

const manifest = (n: number): Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}` as Digest,
  size: 100 + n,
});

describe('makeImageIndex', () => {
  it('lists one manifest per platform, in the order given, each with its platform', () => {
    const index = makeImageIndex([
      { descriptor: manifest(2), platform: { os: 'linux', architecture: 'arm64' } },
      { descriptor: manifest(1), platform: { os: 'linux', architecture: 'amd64' } },
      { descriptor: manifest(3), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ]);
    expect(index).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { ...manifest(2), platform: { architecture: 'arm64', os: 'linux' } },
        { ...manifest(1), platform: { architecture: 'amd64', os: 'linux' } },
        { ...manifest(3), platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
      ],
    });
  });

  it('gives the same bytes for the same entries (no time, no annotations unless asked)', () => {
    const entries = [
      { descriptor: manifest(1), platform: { os: 'linux', architecture: 'amd64' } },
      { descriptor: manifest(2), platform: { os: 'linux', architecture: 'arm64' } },
    ];
    expect(JSON.stringify(makeImageIndex(entries))).toBe(JSON.stringify(makeImageIndex(entries)));
    expect(makeImageIndex(entries)).not.toHaveProperty('annotations');
    expect(makeImageIndex(entries, { annotations: { a: 'b' } }).annotations).toEqual({ a: 'b' });
  });

  it('refuses two manifests for one platform', () => {
    const p = { os: 'linux', architecture: 'amd64' };
    expect(() =>
      makeImageIndex([
        { descriptor: manifest(1), platform: p },
        { descriptor: manifest(2), platform: p },
      ]),
    ).toThrow(/linux\/amd64 is listed twice/);
  });
});

describe('parsePlatformList', () => {
  it('parses each platform of a list, in order, dropping repeats', () => {
    expect(parsePlatformList('linux/amd64, linux/arm64,linux/arm/v7,linux/x86_64')).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
    expect(parsePlatformList('linux/arm64')).toEqual([{ os: 'linux', architecture: 'arm64' }]);
    // arm64 and arm64/v8 are one platform
    expect(parsePlatformList('linux/arm64,linux/arm64/v8')).toHaveLength(1);
  });

  it.each(['linux/amd64,', ',linux/amd64', 'linux/amd64,,linux/arm64', 'linux/amd64,linx'])('refuses %j', (s) => {
    expect(() => parsePlatformList(s)).toThrow();
  });
});

describe('platformDirName', () => {
  it('names a platform as buildx names its local output directory', () => {
    expect(platformDirName({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux_arm_v7');
    expect(platformDirName({ os: 'linux', architecture: 'amd64' })).toBe('linux_amd64');
  });
});
