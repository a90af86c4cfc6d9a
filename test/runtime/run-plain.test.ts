// runPlain (copy snapshots, issue 16): a RUN in a plain tree without namespaces. The command is confined to the tree
// (no way back to the host's `/`, no second chroot), what the runtime placed is gone afterwards with what stood there
// put back, a base whose /etc is a symlink out of the tree cannot make the placement write outside it, and
// --network=none is refused rather than ignored.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPlain } from '../../runtime/index.js';
import type { PlainRunSpec } from '../../runtime/index.js';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';

let dir: string;
let rootfs: string;
let helperDir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-run-plain-'));
  fs.chmodSync(dir, 0o755);
  rootfs = await makeBusyboxRootfs(join(dir, 'rootfs'));
  helperDir = join(dir, 'helper');
  fs.mkdirSync(helperDir, { mode: 0o755 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sh(script: string, more: Partial<PlainRunSpec> = {}): Promise<{ code: number | null; out: string }> {
  let out = '';
  const r = await runPlain({
    rootDir: rootfs,
    workDir: join(dir, 'work'),
    args: ['/bin/sh', '-c', script],
    env: [],
    network: 'host',
    helperDir,
    onStdout: (c) => (out += c.toString()),
    onStderr: (c) => (out += c.toString()),
    ...more,
  });
  return { code: r.exitCode, out };
}

describe('runPlain', () => {
  it('keeps the command inside the tree: no way up from /, no second chroot', async () => {
    fs.writeFileSync(join(dir, 'outside'), 'host file');
    const up = await sh('cd /../../.. && ls / && cat /outside 2>&1; chroot / /bin/true && echo CHROOTED');
    expect(up.out).toContain('bin');
    expect(up.out).not.toContain('host file');
    expect(up.out).not.toContain('CHROOTED');
  });

  it('takes out what it placed and puts back what stood there', async () => {
    fs.writeFileSync(join(rootfs, 'etc/hosts'), 'the image hosts\n');
    const before = fs.statSync(join(rootfs, 'etc'), { bigint: true }).mtimeNs;
    const r = await sh('cat /etc/hosts /run/secrets/s; echo x > /dev/null', {
      files: [{ target: '/run/secrets/s', content: 'sesame', mode: 0o400 }],
    });
    expect(r.code).toBe(0);
    expect(r.out).toContain('buildkitsandbox');
    expect(r.out).toContain('sesame');
    expect(fs.readFileSync(join(rootfs, 'etc/hosts'), 'utf8')).toBe('the image hosts\n');
    expect(fs.existsSync(join(rootfs, 'etc/resolv.conf'))).toBe(false);
    expect(fs.existsSync(join(rootfs, 'run'))).toBe(false);
    expect(fs.readdirSync(join(rootfs, 'dev'))).toEqual([]);
    expect(fs.statSync(join(rootfs, 'etc'), { bigint: true }).mtimeNs).toBe(before);
  });

  it('never places files outside the tree: an /etc symlink out of it is refused, one inside is followed', async () => {
    fs.rmSync(join(rootfs, 'etc'), { recursive: true });
    fs.mkdirSync(join(dir, 'evil'));
    fs.symlinkSync('../evil', join(rootfs, 'etc'));
    await expect(sh('true')).rejects.toThrow(/cannot place \/etc\/hosts in the snapshot/);
    expect(fs.readdirSync(join(dir, 'evil'))).toEqual([]);
    // a symlink to a directory inside the tree is followed inside it
    fs.rmSync(join(rootfs, 'etc'));
    fs.mkdirSync(join(rootfs, 'real-etc'));
    fs.symlinkSync('/../real-etc', join(rootfs, 'etc'));
    const r = await sh('cat /etc/hosts');
    expect(r.out).toContain('buildkitsandbox');
    expect(fs.readdirSync(join(rootfs, 'real-etc'))).toEqual([]);
    expect(fs.readdirSync(join(dir, 'evil'))).toEqual([]);
  });

  it('refuses --network=none: no network namespace can be made', async () => {
    await expect(sh('true', { network: 'none' })).rejects.toThrow(/--network=none cannot be honoured/);
  });
});
