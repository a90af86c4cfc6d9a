import { describe, expect, it } from 'vitest';
import { formatPlatform, hostPlatform, parsePlatform, platformRank, selectPlatform } from './platform.js';
import { MediaType, type Descriptor, type Digest } from './types.js';

const entry = (platform: string, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: `sha256:${platform.replace(/\W/g, '').padEnd(64, '0')}` as Digest,
  size: 1,
  platform: parsePlatform(platform),
  ...extra,
});

describe('parsePlatform and formatPlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['Linux/AArch64', { os: 'linux', architecture: 'arm64' }],
    [' linux/arm/v7 ', { os: 'linux', architecture: 'arm', variant: 'v7' }],
  ])('parses %j', (text, want) => {
    expect(parsePlatform(text)).toEqual(want);
  });

  it('reads one word as containerd does: an OS on the host architecture, an architecture on Linux', () => {
    expect(parsePlatform('linux')).toEqual(hostPlatform());
    expect(parsePlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(() => parsePlatform('linx')).toThrow(/one word: a known OS or architecture/);
  });

  it.each(['linx', 'linux/', '/amd64', 'linux/arm/v7/x', 'linux/am d64', 'linux/amd64/v1!'])('refuses %j', (text) => {
    expect(() => parsePlatform(text)).toThrow(/expected os\/arch\[\/variant\]/);
  });

  it.each(['linux/amd64,linux/arm64', 'linux/amd64,'])('refuses the list %j by name, not as one platform', (text) => {
    expect(() => parsePlatform(text)).toThrow(/list of platforms: one platform is expected here/);
  });

  it('formats the variant as given, arm64 included', () => {
    expect(formatPlatform(parsePlatform('linux/arm64/v8'))).toBe('linux/arm64/v8');
    expect(formatPlatform(parsePlatform('linux/amd64'))).toBe('linux/amd64');
  });
});

describe('hostPlatform', () => {
  it.each([
    ['x64', { os: 'linux', architecture: 'amd64' }],
    ['arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['ia32', { os: 'linux', architecture: '386' }],
    ['ppc64', { os: 'linux', architecture: 'ppc64le' }],
    ['mipsel', { os: 'linux', architecture: 'mipsle' }],
  ])("names Node's %s as OCI's %j", (arch, want) => {
    expect(hostPlatform(arch)).toEqual(want);
  });
});

describe('platformRank', () => {
  it.each([
    ['linux/arm64', 'linux/arm64/v8', 0],
    ['linux/arm64/v8', 'linux/arm64', 0],
    ['linux/arm', 'linux/arm/v7', 0],
    ['linux/arm/v7', 'linux/arm/v6', 1],
    ['linux/arm/v7', 'linux/arm/v5', 2],
    // containerd's platforms.Only order: an amd64/vN machine runs vN…v1 then 386, arm64 runs 32-bit arm v8…v5
    ['linux/amd64/v3', 'linux/amd64/v3', 0],
    ['linux/amd64/v3', 'linux/amd64/v2', 1],
    ['linux/amd64/v3', 'linux/amd64', 2],
    ['linux/amd64/v3', 'linux/386', 3],
    ['linux/amd64', 'linux/amd64/v1', 0],
    ['linux/amd64', 'linux/386', 1],
    ['linux/arm64', 'linux/arm/v8', 1],
    ['linux/arm64', 'linux/arm/v7', 2],
    ['linux/arm64', 'linux/arm/v5', 4],
    ['linux/arm/v8', 'linux/arm/v7', 1],
    ['linux/arm/v6', 'linux/arm/6', 0],
  ])('%s runs %s (rank %i)', (want, have, rank) => {
    expect(platformRank(parsePlatform(want), parsePlatform(have))).toBe(rank);
  });

  it.each([
    ['linux/arm/v6', 'linux/arm/v7'],
    ['linux/amd64', 'linux/arm64'],
    ['linux/amd64', 'linux/amd64/v3'],
    ['linux/amd64/v2', 'linux/amd64/v3'],
    ['linux/386', 'linux/amd64'],
    ['linux/arm/v7', 'linux/arm64'],
    ['linux/arm/v7', 'linux/arm/v8'],
    ['linux/arm/v5', 'linux/arm'],
    ['windows/amd64', 'linux/amd64'],
  ])('%s cannot run %s', (want, have) => {
    expect(platformRank(parsePlatform(want), parsePlatform(have))).toBeUndefined();
  });
});

describe('selectPlatform', () => {
  const index = [
    entry('linux/amd64'),
    entry('linux/arm/v5'),
    entry('linux/arm/v6'),
    entry('linux/arm64/v8'),
    entry('unknown/unknown', { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }),
  ];

  it('picks the exact match, else the closest variant that runs', () => {
    expect(selectPlatform(index, parsePlatform('linux/arm64'))).toBe(index[3]);
    expect(selectPlatform(index, parsePlatform('linux/arm/v7'))).toBe(index[2]);
    expect(selectPlatform(index, parsePlatform('linux/arm/v5'))).toBe(index[1]);
  });

  it("falls back in containerd's order: arm64 to 32-bit arm, amd64 to 386", () => {
    const armOnly = [entry('linux/amd64'), entry('linux/arm/v6'), entry('linux/arm/v7')];
    expect(selectPlatform(armOnly, parsePlatform('linux/arm64'))).toBe(armOnly[2]);
    expect(selectPlatform([entry('linux/386'), entry('linux/arm64')], parsePlatform('linux/amd64'))?.platform).toEqual(
      parsePlatform('linux/386'),
    );
    expect(selectPlatform([entry('linux/amd64/v3')], parsePlatform('linux/amd64'))).toBeUndefined();
  });

  it('finds nothing for a platform the index lacks', () => {
    expect(selectPlatform(index, parsePlatform('linux/s390x'))).toBeUndefined();
  });

  it('skips attestations and nested indexes even when their platform matches', () => {
    const nested = entry('linux/amd64', { mediaType: MediaType.OciIndex });
    const attest = entry('linux/amd64', { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } });
    expect(selectPlatform([nested, attest], parsePlatform('linux/amd64'))).toBeUndefined();
  });
});
