// Copy snapshots (issue 16): the same Buildfile built with overlay and with plain-directory snapshots gives the same
// layers and the same image (SOURCE_DATE_EPOCH set): RUN writes, a whiteout (`RUN rm` of a base file), hard links
// (new ones and one to a base file), an opaque directory (removed and made again), COPY, WORKDIR and a secret. A
// second copy build is all cached; a tree with an xattr survives the snapshot copy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, stepResults, tsbFor, type Tsb } from './helpers/tsb.js';
import { COPY_BUILDFILE } from './helpers/copy-buildfile.js';
import { build } from '../../index.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
let copyRoot: string;
let copyTsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('copy-snapshots'));
  copyRoot = await mkdtemp(join(tmpdir(), 'tsbuild-copy-snapshots-croot-'));
  copyTsb = tsbFor(copyRoot, registry.host);
});

afterAll(async () => {
  await closeBuildEnv({ registry, root, work });
  if (copyRoot) await rm(copyRoot, { recursive: true, force: true });
});

function inspectConfig(ref: string): { rootfs: { diff_ids: string[] } } {
  const out = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', '--config', `docker://${ref}`], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as { rootfs: { diff_ids: string[] } };
}

describe('copy snapshots', () => {
  it('build the same layers and image as overlay, and a second copy build is all cached', async () => {
    const ctx = join(work, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Buildfile'), COPY_BUILDFILE);
    await writeFile(join(ctx, 'f.txt'), 'copied\n');
    await writeFile(join(work, 'secret'), 'sesame\n');
    const common = ['--secret', `id=s,src=${join(work, 'secret')}`, '--build-arg', 'SOURCE_DATE_EPOCH=1700000000'];
    const overlayRef = `${registry.host}/copy/overlay:1`;
    const copyRef = `${registry.host}/copy/copy:1`;
    ok(
      tsb(['build', '-q', ...common, '--iidfile', join(work, 'iid-overlay'), '--push', '-t', overlayRef, ctx]),
      'overlay',
    );
    const env = { TSBUILD_MODE: 'unprivileged' };
    const first = copyTsb(
      ['build', '--progress=json', ...common, '--iidfile', join(work, 'iid-copy'), '--push', '-t', copyRef, ctx],
      { env },
    );
    ok(first, 'copy');
    // the copy build really ran its steps in snapshots (no overlay layer dir was used for the base)
    expect(execFileSync('ls', [join(copyRoot, 'snapshots')], { encoding: 'utf8' })).toMatch(/[0-9a-f]{64}/);
    expect(inspectConfig(copyRef).rootfs.diff_ids).toEqual(inspectConfig(overlayRef).rootfs.diff_ids);
    expect(await readFile(join(work, 'iid-copy'), 'utf8')).toBe(await readFile(join(work, 'iid-overlay'), 'utf8'));

    const again = copyTsb(['build', '--progress=json', ...common, ctx], { env });
    ok(again, 'cached copy build');
    expect(stepResults(events(again.stderr)).filter((s) => !s.cached)).toEqual([]);
  });

  it('prune removes the snapshots no live build leases; a build makes them again, the same image', async () => {
    const env = { TSBUILD_MODE: 'unprivileged' };
    const snaps = (): string[] =>
      execFileSync('ls', [join(copyRoot, 'snapshots')], { encoding: 'utf8' })
        .split('\n')
        .filter((n) => /^[0-9a-f]{64}$/.test(n));
    const before = snaps();
    expect(before.length).toBeGreaterThan(1);
    // a lease as a running build leaves it (store/leases.ts): this process is alive, so prune keeps that one
    const kept = before[0]!;
    const lease = join(copyRoot, 'leases', `${process.pid}-snaptest.lease`);
    await writeFile(lease, `snapshot:${kept}\n`);
    const first = copyTsb(['prune'], { env });
    ok(first, 'prune');
    expect(first.stdout).toContain(`${before.length - 1} copy snapshots`);
    expect(snaps()).toEqual([kept]);
    await rm(lease);
    ok(copyTsb(['prune'], { env }), 'prune');
    expect(snaps()).toEqual([]);
    const ctx = join(work, 'ctx');
    const common = ['--secret', `id=s,src=${join(work, 'secret')}`, '--build-arg', 'SOURCE_DATE_EPOCH=1700000000'];
    ok(
      copyTsb(['build', '-q', '--no-cache', ...common, '--iidfile', join(work, 'iid-again'), ctx], { env }),
      'rebuild',
    );
    expect(snaps().length).toBeGreaterThan(0);
    expect(await readFile(join(work, 'iid-again'), 'utf8')).toBe(await readFile(join(work, 'iid-overlay'), 'utf8'));
  });

  it('with isolation none: a build without RUN works, a RUN fails at once naming the missing root switch', async () => {
    const ctx = join(work, 'ctx-none');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'f.txt'), 'copied\n');
    const opts = {
      root: copyRoot,
      context: ctx,
      snapshots: 'copy' as const,
      isolation: 'none' as const,
      registryMirrors: [`http://${registry.host}`],
      insecureRegistries: [registry.host],
    };
    const done = await build({ ...opts, fileText: 'FROM busybox:latest\nCOPY f.txt /f.txt\nWORKDIR /w\n' });
    expect(done.stats.containers).toBe(0);
    await expect(build({ ...opts, fileText: 'FROM busybox:latest\nRUN true\n' })).rejects.toThrow(
      /RUN cannot run with isolation none: it needs a root switch \(chroot\)/,
    );
    // isolation none means nothing without copy snapshots (overlay always switches root)
    await expect(build({ ...opts, snapshots: 'overlay', fileText: 'FROM busybox:latest\n' })).rejects.toThrow(
      /isolation none needs copy snapshots/,
    );
  });
});
