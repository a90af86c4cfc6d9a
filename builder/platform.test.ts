import { describe, expect, it } from 'vitest';
import { basePlatformWarning } from './platform.js';

describe('basePlatformWarning', () => {
  it("words a mismatch as BuildKit's InvalidBaseImagePlatform, with the FROM line", () => {
    expect(
      basePlatformWarning(
        'busybox:latest',
        { os: 'linux', architecture: 'arm64' },
        { os: 'linux', architecture: 'amd64' },
        3,
      ),
    ).toBe(
      'InvalidBaseImagePlatform: Base image busybox:latest was pulled with platform "linux/amd64", expected "linux/arm64" for current build (line 3)',
    );
  });

  it('is silent when the base can run as the target (arm64 v8 is arm64, armv7 runs v6)', () => {
    const cfg = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    expect(basePlatformWarning('a', { os: 'linux', architecture: 'arm64' }, cfg, 1)).toBeUndefined();
    const v6 = { os: 'linux', architecture: 'arm', variant: 'v6' };
    expect(basePlatformWarning('a', { os: 'linux', architecture: 'arm', variant: 'v7' }, v6, 1)).toBeUndefined();
    const amd = { os: 'linux', architecture: 'amd64' };
    expect(basePlatformWarning('a', { os: 'linux', architecture: 'amd64' }, amd, 1)).toBeUndefined();
  });
});
