import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_HOSTNAME, writeEtcFiles } from './etc-files.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-etc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeEtcFiles', () => {
  it("writes BuildKit's /etc/hosts for a build step, extra hosts after the loopback lines", async () => {
    const f = await writeEtcFiles(dir, {
      hostname: BUILD_HOSTNAME,
      network: 'none',
      extraHosts: ['10.0.0.1 db'],
      purpose: 'build',
    });
    expect(await readFile(f.hosts, 'utf8')).toBe(
      '127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.1\tdb\n',
    );
    expect(f.hostname).toBeUndefined();
  });
  it('names the host on its own line for tsbuild run', async () => {
    const f = await writeEtcFiles(dir, { hostname: 'c0ffee', network: 'none', extraHosts: [], purpose: 'run' });
    expect(await readFile(f.hosts, 'utf8')).toBe(
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tc0ffee\n',
    );
    expect(await readFile(f.hostname!, 'utf8')).toBe('c0ffee\n');
  });
});
