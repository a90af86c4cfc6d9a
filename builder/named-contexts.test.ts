import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { UsageError } from '../oci/index.js';
import { parseBuildContext } from './named-contexts.js';

describe('parseBuildContext (--build-context NAME=VALUE)', () => {
  it('tells the kinds apart as buildx does', () => {
    expect(parseBuildContext('alpine=docker-image://busybox:1.36').source).toEqual({
      kind: 'image',
      ref: 'busybox:1.36',
    });
    expect(parseBuildContext('base=oci-layout:///srv/layout:v1').source).toEqual({
      kind: 'oci-layout',
      path: '/srv/layout',
      tag: 'v1',
    });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseBuildContext(`base=oci-layout:///srv/layout@${d}`).source).toEqual({
      kind: 'oci-layout',
      path: '/srv/layout',
      digest: d,
    });
    expect(parseBuildContext('web=https://example.com/ctx.tar.gz').source).toEqual({
      kind: 'url',
      url: 'https://example.com/ctx.tar.gz',
    });
    expect(parseBuildContext('src=https://example.com/org/repo.git#main').source.kind).toBe('git');
    expect(parseBuildContext('src=git@example.com:org/repo.git').source.kind).toBe('git');
    expect(parseBuildContext(`extra=${tmpdir()}`).source).toEqual({ kind: 'dir', path: tmpdir() });
    expect(parseBuildContext('docker.io/library/alpine:latest=docker-image://busybox').name).toBe('alpine');
  });

  it('refuses a malformed spec or an unknown scheme with a usage error', () => {
    for (const s of ['noequals', '=x', 'a=', 'a=ftp://host/x', 'a=docker-image://UPPER', 'a=oci-layout://x@sha256:1'])
      expect(() => parseBuildContext(s), s).toThrow(UsageError);
  });

  it('refuses a platform-qualified name (NAME::os/arch) rather than letting it match nothing', () => {
    expect(() => parseBuildContext('alpine::linux/arm64=docker-image://busybox')).toThrow(/platform-qualified/);
  });
});
