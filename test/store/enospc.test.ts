// A full disk: the store on an 8 MiB tmpfs, then a real pull, a real load and a real build of more than that. Each
// fails with exit 1 and a message that names the path being written (and the step, for a build) and says to free
// space or run `tsbuild prune`, in a few lines.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from '../builder/helpers/env.js';
import { BIN, REPO } from '../builder/helpers/tsb.js';

let env: BuildTestEnv;
let mnt: string;
let archive: string;

beforeAll(async () => {
  env = await makeBuildEnv('enospc');
  const ctx = join(env.work, 'big');
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, 'Buildfile'), 'FROM busybox\nRUN head -c 12582912 /dev/urandom > /big\n');
  const b = env.tsb(['build', '--progress=quiet', '-t', 'big:1', ctx]);
  if (b.code !== 0) throw new Error(b.stderr);
  const p = env.tsb(['push', '--progress=quiet', 'big:1', `${env.registry.host}/full/big:1`]);
  if (p.code !== 0) throw new Error(p.stderr);
  archive = join(env.work, 'big.tar');
  const s = env.tsb(['save', '-o', archive, 'big:1']);
  if (s.code !== 0) throw new Error(s.stderr);
  mnt = await mkdtemp(join(tmpdir(), 'tsbuild-enospc-'));
}, 300_000);

afterAll(async () => {
  if (mnt) {
    spawnSync('umount', [mnt]);
    await rm(mnt, { recursive: true, force: true });
  }
  await closeBuildEnv(env ?? {});
});

/** A fresh 8 MiB tmpfs as the store root. */
function smallStore(): string {
  spawnSync('umount', [mnt]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mnt]);
  return join(mnt, 'store');
}

function cli(root: string, args: string[]): { code: number; stderr: string } {
  const r = spawnSync(
    BIN,
    [
      '--root',
      root,
      '--registry-mirror',
      `http://${env.registry.host}`,
      '--insecure-registry',
      env.registry.host,
      ...args,
    ],
    { encoding: 'utf8', cwd: REPO, timeout: 120_000 },
  );
  return { code: r.status ?? -1, stderr: r.stderr };
}

function expectFullDiskError(r: { code: number; stderr: string }, root: string): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/no space left on device/i);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  // names where it was writing, inside the store
  expect(r.stderr).toContain(root);
  expect(r.stderr).toMatch(/free space|tsbuild prune/);
  expect(r.stderr.length).toBeLessThan(64 << 10);
}

describe('full disk', () => {
  it('pull names the path and hints at freeing space', () => {
    const root = smallStore();
    expectFullDiskError(cli(root, ['pull', '--progress=plain', `${env.registry.host}/full/big:1`]), root);
  }, 120_000);

  it('load names the path and hints at freeing space', () => {
    const root = smallStore();
    expectFullDiskError(cli(root, ['load', '-i', archive]), root);
  }, 120_000);

  it('a build names the step, the path, and hints at freeing space', async () => {
    const root = smallStore();
    const ctx = join(env.work, 'fill');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Buildfile'), 'FROM busybox\nRUN head -c 12582912 /dev/zero > /fill\n');
    const r = cli(root, ['build', '--progress=plain', ctx]);
    expectFullDiskError(r, root);
    expect(r.stderr).toMatch(/error: failed to build \[stage-0 2\/2\] RUN head -c/);
  }, 120_000);

  it('a build whose layer does not fit in the store names the step and the blob being written', async () => {
    const mib = 4;
    const root = smallStore();
    const ctx = join(env.work, 'layer');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Buildfile'), `FROM busybox\nRUN head -c ${mib << 20} /dev/urandom > /r\n`);
    const r = cli(root, ['build', '--progress=plain', ctx]);
    expectFullDiskError(r, root);
    expect(r.stderr).toMatch(/error: failed to build \[stage-0 2\/2\] RUN head -c/);
    expect(r.stderr).toContain(`writing ${root}/`);
  }, 120_000);
});
