// A build fails fast and says what was wrong: the first failing stage cancels the stages running beside it (their
// containers killed, nothing left mounted), EXPOSE validates its ports as BuildKit does, and a --secret whose file
// is missing is named with its id and path.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching } from '../runtime/helpers.js';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from './helpers/env.js';

let env: BuildTestEnv;
beforeAll(async () => {
  env = await makeBuildEnv('fail-fast');
}, 180_000);
afterAll(() => closeBuildEnv(env ?? {}));

async function context(name: string, buildfile: string): Promise<string> {
  const dir = join(env.work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  return dir;
}

describe('a failing stage cancels the stages beside it', () => {
  it('the sleeping stage is killed and cleaned up; the build returns with the first error', async () => {
    // Both stages share a cache mount, a directory on the host: the failing stage waits until the sleeping one
    // has started, and the sleeping one would write `done` after its sleep.
    const mount = 'RUN --mount=type=cache,id=fail-fast,target=/c';
    const dir = await context(
      'cancel',
      [
        'FROM busybox:latest AS slow',
        `${mount} sh -c 'echo started > /c/started; sleep 67; echo done > /c/done'`,
        'FROM busybox:latest AS bad',
        `${mount} sh -c 'while [ ! -e /c/started ]; do sleep 0.1; done; echo failing; exit 3'`,
        'FROM busybox:latest',
        'COPY --from=slow /bin/busybox /a',
        'COPY --from=bad /bin/busybox /b',
        '',
      ].join('\n'),
    );
    const cacheDir = join(
      env.root,
      'builder',
      'cache-mounts',
      createHash('sha256').update('fail-fast').digest('hex').slice(0, 32),
    );
    const r = env.tsb(['build', '--progress=plain', '--concurrency', '2', dir]);
    expect(r.code, r.stderr).toBe(1);
    // the error is the failing stage's, not the cancelled one's
    expect(r.stderr).toMatch(/^error: failed to build \[bad 2\/2\].*exited with code 3/m);
    // the sleeping RUN had started, and was stopped: its process is gone, it never wrote `done`
    expect(existsSync(join(cacheDir, 'started'))).toBe(true);
    expect(await processesMatching('sleep 67')).toEqual([]);
    expect(existsSync(join(cacheDir, 'done'))).toBe(false);
    // nothing of the build is left mounted
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(env.root);
  }, 120_000);
});

describe('EXPOSE', () => {
  it("EXPOSE abc fails the build with BuildKit's message and the line", async () => {
    const dir = await context('expose-bad', 'FROM scratch\nLABEL a=1\nEXPOSE 80 abc\n');
    const r = env.tsb(['build', '--progress=plain', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid containerPort: abc');
    expect(r.stderr).toMatch(/Buildfile:3/);
    const proto = env.tsb([
      'build',
      '--progress=plain',
      await context('expose-proto', 'FROM scratch\nEXPOSE 80/xtp\n'),
    ]);
    expect(proto.code).toBe(1);
    expect(proto.stderr).toContain('invalid proto: xtp');
  });

  it('a range is recorded port by port, protocols in lower case', async () => {
    const dir = await context('expose-ok', 'FROM scratch\nEXPOSE 8000-8002 53/UDP 9/sctp\n');
    const b = env.tsb(['build', '--progress=plain', '-t', 'expose-ok:1', dir]);
    expect(b.code, b.stderr).toBe(0);
    const i = env.tsb(['inspect', 'expose-ok:1']);
    const cfg = JSON.parse(i.stdout) as { config: { config: { ExposedPorts: Record<string, object> } } };
    expect(Object.keys(cfg.config.config.ExposedPorts).sort()).toEqual([
      '53/udp',
      '8000/tcp',
      '8001/tcp',
      '8002/tcp',
      '9/sctp',
    ]);
  });
});

describe('--secret', () => {
  it('a src that does not exist names the secret id and the path (exit 2)', async () => {
    const dir = await context('secret', 'FROM scratch\nLABEL a=1\n');
    const r = env.tsb(['build', '--progress=plain', '--secret', 'id=npmrc,src=/nonexistent/tsbuild/npmrc', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('secret "npmrc"');
    expect(r.stderr).toContain('/nonexistent/tsbuild/npmrc');
    expect(r.stderr).toContain('no such file');
  });
});
