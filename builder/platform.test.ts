import { describe, expect, it } from 'vitest';
import { basePlatformWarning } from './platform.js';

describe('basePlatformWarning', () => {
  it("words a mismatch as BuildKit's InvalidBaseImagePlatform, as BuildKit's message", () => {
    expect(
      basePlatformWarning(
        'busybox:latest',
        { os: 'linux', architecture: 'arm64' },
        { os: 'linux', architecture: 'amd64' },
      ),
    ).toBe(
      'Base image busybox:latest was pulled with platform "linux/amd64", expected "linux/arm64" for current build',
    );
  });

  it('is silent when the base can run as the target (arm64 v8 is arm64, armv7 runs v6)', () => {
    const cfg = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    expect(basePlatformWarning('a', { os: 'linux', architecture: 'arm64' }, cfg)).toBeUndefined();
    const v6 = { os: 'linux', architecture: 'arm', variant: 'v6' };
    expect(basePlatformWarning('a', { os: 'linux', architecture: 'arm', variant: 'v7' }, v6)).toBeUndefined();
    const amd = { os: 'linux', architecture: 'amd64' };
    expect(basePlatformWarning('a', { os: 'linux', architecture: 'amd64' }, amd)).toBeUndefined();
    // BuildKit compares os and architecture only: an arm/v7 base of an arm/v6 build is not its warning
    const v7 = { os: 'linux', architecture: 'arm', variant: 'v7' };
    expect(basePlatformWarning('a', { os: 'linux', architecture: 'arm', variant: 'v6' }, v7)).toBeUndefined();
  });

  it('prints both platforms normalised, as containerd formats them (arm64 without v8, arm with its variant)', () => {
    expect(
      basePlatformWarning(
        'b',
        { os: 'linux', architecture: 'arm' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ),
    ).toBe('Base image b was pulled with platform "linux/arm64", expected "linux/arm/v7" for current build');
  });
});
