// A runtime error reaches the user with what to do about it: the step's error carries the runtime's hint. Real
// build through bin/tsbuild, a fresh store; no base image needed (FROM scratch has no /etc/passwd).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'tsbuild-error-hints-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('runtime error hints', () => {
  it('a USER the image does not have fails the RUN step with exit 1 and the hint', () => {
    writeFileSync(join(tmp, 'Buildfile'), 'FROM scratch\nUSER ghost\nRUN ["/bin/true"]\n');
    const r = spawnSync(
      bin,
      [
        '--root',
        join(tmp, 'store'),
        'build',
        '--progress=plain',
        '--network',
        'none',
        '-f',
        join(tmp, 'Buildfile'),
        tmp,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('user "ghost": no user "ghost" in /etc/passwd');
    expect(r.stderr).toMatch(/^hint: USER names a user or group of the image's \/etc\/passwd/m);
  });
});
