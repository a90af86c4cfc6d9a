// Pure functions of the registry client: challenge parsing, Retry-After, platform ranking.
import { describe, expect, it } from 'vitest';
import { parsePlatform, platformRank } from '../../oci/index.js';
import { parseChallenges, RegistryClient } from '../../registry-client/api.js';
import { parseRetryAfter } from '../../registry-client/transport.js';
import { parseReference } from '../../oci/reference.js';

describe('registry client units', () => {
  it('parses references as Docker does, and rejects malformed ones with the reason', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseReference('busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
    expect(parseReference('library/busybox:1.36')).toEqual({
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: '1.36',
    });
    expect(parseReference('docker.io/x/y')).toEqual({ registry: 'docker.io', repository: 'x/y', tag: 'latest' });
    expect(parseReference('index.docker.io/x/y:2')).toEqual({ registry: 'docker.io', repository: 'x/y', tag: '2' });
    expect(parseReference('host:5000/a/b:tag')).toEqual({ registry: 'host:5000', repository: 'a/b', tag: 'tag' });
    expect(parseReference('localhost/a')).toEqual({ registry: 'localhost', repository: 'a', tag: 'latest' });
    expect(parseReference(`name@${d}`)).toEqual({ registry: 'docker.io', repository: 'library/name', digest: d });
    expect(parseReference(`name:tag@${d}`)).toEqual({
      registry: 'docker.io',
      repository: 'library/name',
      tag: 'tag',
      digest: d,
    });
    expect(() => parseReference('Busybox')).toThrow(/lowercase/);
    expect(() => parseReference('busybox:bad tag')).toThrow(/not a valid tag/);
    expect(() => parseReference('busybox@sha256:abc')).toThrow(/digest/);
    expect(() => parseReference('a//b')).toThrow(/component/);
    expect(() => parseReference('')).toThrow(/empty/);
  });

  it("parses Docker Hub's Bearer challenge and a Basic one", () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
    expect(parseChallenges('Basic realm="a", Bearer realm="https://x/token",service=reg').map((c) => c.scheme)).toEqual(
      ['basic', 'bearer'],
    );
  });

  it('sends docker.io to registry-1.docker.io, mirrors first for pulls only, and plain HTTP only to insecure registries', () => {
    const c = new RegistryClient({
      mirrors: ['mirror.example:5000', 'http://127.0.0.1:5001/'],
      insecure: ['mirror.example:5000', 'local:5000'],
    });
    try {
      expect(c.endpoints('docker.io', 'pull').map((e) => e.base)).toEqual([
        'http://mirror.example:5000',
        'http://127.0.0.1:5001',
        'https://registry-1.docker.io',
      ]);
      expect(c.endpoints('docker.io', 'push').map((e) => e.base)).toEqual(['https://registry-1.docker.io']);
      expect(c.endpoints('local:5000', 'pull').map((e) => e.base)).toEqual(['http://local:5000']);
      expect(c.endpoints('ghcr.io', 'pull').map((e) => e.base)).toEqual(['https://ghcr.io']);
    } finally {
      c.close();
    }
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('ranks platforms like containerd: arm64 v8 equals no variant, armv7 accepts v6 after v7, amd64 never arm', () => {
    expect(platformRank(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(0);
    expect(platformRank(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(1);
    expect(
      platformRank(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' }),
    ).toBeUndefined();
    expect(platformRank(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'arm64' })).toBeUndefined();
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(() => parsePlatform('linx')).toThrow(/os\/arch/);
  });
});
