// The build command's surface: docker build's way of being called (default command, -f -, a context tar on
// stdin), outputs (docker archive, local dir, iidfile, metadata), and clear failures for what is not supported.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, REPO, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('cli'));
});

afterAll(() => closeBuildEnv({ registry, root, work }));

describe('tsbuild build command line', () => {
  it('is the default command: tsbuild -f Buildfile -t NAME .', () => {
    const r = tsb(['-f', 'Buildfile', '-t', 'cli-default:1', '-q', '.'], { cwd: join(REPO, 'samples/hello') });
    ok(r, 'default command');
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(tsb(['run', 'cli-default:1']).stdout).toContain('Hello from tsbuild');
  });

  it('reads the Buildfile from stdin (-f -) and a context tar from stdin (-)', async () => {
    const ctx = join(work, 'stdin');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'data.txt'), 'from the tar\n');
    await writeFile(join(ctx, 'Buildfile'), 'FROM busybox:latest\nCOPY data.txt /data.txt\nCMD ["cat", "/data.txt"]\n');
    const a = tsb(['build', '-q', '-t', 'cli-f:1', '-f', '-', ctx], {
      input: 'FROM busybox:latest\nCOPY data.txt /d\nCMD ["cat", "/d"]\n',
    });
    ok(a, '-f -');
    expect(tsb(['run', 'cli-f:1']).stdout).toBe('from the tar\n');
    const tar = execFileSync('tar', ['-C', ctx, '-cf', '-', '.']);
    const b = tsb(['build', '-q', '-t', 'cli-tar:1', '-'], { input: tar });
    ok(b, 'context -');
    expect(tsb(['run', 'cli-tar:1']).stdout).toBe('from the tar\n');
  });

  it('writes --iidfile, --metadata-file, a docker archive and a local rootfs', async () => {
    const iid = join(work, 'iid');
    const meta = join(work, 'meta.json');
    const archive = join(work, 'img.docker.tar');
    const dir = join(work, 'rootfs');
    const r = tsb([
      'build',
      '-q',
      '--iidfile',
      iid,
      '--metadata-file',
      meta,
      '-o',
      `type=docker,dest=${archive}`,
      '-o',
      `type=local,dest=${dir}`,
      '-t',
      'cli-out:1',
      join(REPO, 'samples/multistage'),
    ]);
    ok(r, 'outputs');
    expect((await readFile(iid, 'utf8')).trim()).toBe(r.stdout.trim());
    const m = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
    expect(m['containerimage.config.digest']).toBe(r.stdout.trim());
    expect(m['containerimage.digest']).toMatch(/^sha256:/);
    const inspect = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', `docker-archive:${archive}`], { encoding: 'utf8' }),
    ) as { config: { Cmd: string[] } };
    expect(inspect.config.Cmd).toEqual(['sh', '-c', 'cat /srv/report.txt /srv/docs/README']);
    expect(await readFile(join(dir, 'srv/docs/README'), 'utf8')).toBe('multistage sample docs\n');
  });

  it('fails clearly on flags it does not support and on an unknown --target', () => {
    const a = tsb(['build', '--add-host', 'h:1.2.3.4', join(REPO, 'samples/hello')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--add-host is not supported');
    const b = tsb(['build', '--target', 'nope', join(REPO, 'samples/multistage')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/target stage "nope" could not be found/);
  });
});
