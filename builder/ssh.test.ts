import { describe, expect, it } from 'vitest';
import { UsageError } from '../oci/index.js';
import { parseSshSpec, SshAgents } from './ssh.js';

describe('--ssh specs', () => {
  it('parses default, ID and ID=PATH[,PATH] as buildx', () => {
    expect(parseSshSpec('default')).toEqual({ id: 'default', paths: [] });
    expect(parseSshSpec('deploy=/k1,/k2')).toEqual({ id: 'deploy', paths: ['/k1', '/k2'] });
    expect(() => parseSshSpec('=x')).toThrow(UsageError);
    expect(() => parseSshSpec('bad id=x')).toThrow(UsageError);
  });

  it('refuses what names no agent before the build runs', () => {
    expect(() => new SshAgents([{ id: 'default', paths: [] }], '/tmp', {})).toThrow(/SSH_AUTH_SOCK is not set/);
    expect(() => new SshAgents([{ id: 'k', paths: ['/nonexistent/key'] }], '/tmp', {})).toThrow(/does not exist/);
    expect(() => new SshAgents([{ id: 'k', paths: ['/tmp'] }], '/tmp', {})).toThrow(/neither a socket nor a key/);
    expect(
      () =>
        new SshAgents(
          [
            { id: 'a', paths: [] },
            { id: 'a', paths: [] },
          ],
          '/tmp',
          { SSH_AUTH_SOCK: '/x' },
        ),
    ).toThrow(/given twice/);
  });
});
