// An image given as docker prints and takes it: the full ID `sha256:<64 hex>` (`build -q`, `--iidfile`), the 64 hex
// alone, or a unique prefix (`images` shows 12) — in every command that takes an image. And `run IMAGE CMD…` passes
// the options after IMAGE to CMD, as `docker run` does.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';

const bin = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));

let work: string;
let root: string;
let registry: RegistryFixture;
let id: string;

function tsbuild(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, ['--root', root, '--insecure-registry', registry.host, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsbuild-image-id-'));
  root = join(work, 'root');
  registry = await startRegistry();
  const rootfs = await makeBusyboxRootfs(join(work, 'rootfs'));
  const tar = join(work, 'busybox.tar');
  await new Promise<void>((res, rej) =>
    execFile('tar', ['-C', rootfs, '--numeric-owner', '-cf', tar, '.'], (e) => (e ? rej(e) : res())),
  );
  const imp = tsbuild(['import', tar, 'docker.io/library/busybox:latest']);
  if (imp.code !== 0) throw new Error(`tsbuild import failed: ${imp.stderr}`);
  const ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(
    join(ctx, 'Buildfile'),
    'FROM busybox:latest\nLABEL built=by-id-test\nCMD ["echo", "from the image"]\n',
  );
  const b = tsbuild(['build', '-q', '--iidfile', join(work, 'iid'), '-t', 'by-id:1', ctx]);
  if (b.code !== 0) throw new Error(`build failed: ${b.stderr}`);
  id = b.stdout.trim();
}, 180_000);

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('image IDs in every form', () => {
  it('build -q and --iidfile print the full ID', () => {
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(readFileSync(join(work, 'iid'), 'utf8').trim()).toBe(id);
  });

  it('inspect takes the full ID, the 64 hex, a 12-hex prefix and sha256:prefix', () => {
    const hex = id.slice(7);
    for (const form of [id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 12)}`]) {
      const r = tsbuild(['inspect', form]);
      expect(r.code, `${form}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout) as { id: string; config: { config: { Labels: Record<string, string> } } };
      expect(out.id).toBe(id);
      expect(out.config.config.Labels.built).toBe('by-id-test');
    }
  });

  it('an ID that names no image is "not in the store", not a crash', () => {
    const r = tsbuild(['inspect', 'sha256:' + 'e'.repeat(64)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not in the store');
    expect(r.stderr).not.toContain('Cannot read properties');
  });

  it('run and save take the full ID', () => {
    const r = tsbuild(['run', id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('from the image\n');
    const out = join(work, 'saved.tar');
    const s = tsbuild(['save', id, '-o', out]);
    expect(s.code, s.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('push takes the full ID with a destination, and asks for one without', () => {
    const none = tsbuild(['push', '--progress=quiet', id]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('needs a destination');
    const dest = `${registry.host}/by-id/pushed:1`;
    const r = tsbuild(['push', '--progress=quiet', id, dest]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(dest);
  });

  it('rmi takes the full ID and removes the names that point at it', () => {
    const extra = tsbuild(['build', '-q', '-t', 'by-id:2', join(work, 'ctx')]);
    expect(extra.stdout.trim()).toBe(id);
    const r = tsbuild(['rmi', id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Untagged: docker.io/library/by-id:1');
    expect(r.stdout).toContain('Untagged: docker.io/library/by-id:2');
    expect(tsbuild(['inspect', 'by-id:1']).code).toBe(1);
  });
});

describe('tsbuild run IMAGE CMD…', () => {
  it('options after IMAGE belong to the command', () => {
    const r = tsbuild(['run', 'busybox', 'id', '-u']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('0\n');
    const e = tsbuild(['run', '-e', 'A=1', 'busybox', 'sh', '-c', 'echo $A "$@"', 'sh', '-e', '--network', 'x']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toBe('1 -e --network x\n');
    // `--` after IMAGE still works, and is not passed on
    const d = tsbuild(['run', 'busybox', '--', 'echo', '-w']);
    expect(d.stdout).toBe('-w\n');
  });

  it('a command that prints a lot and fails: every byte arrives, then its exit status', () => {
    // the pipe's reader is slow: the output is still in tsbuild's buffers when the container has exited
    const script = `"$T" --root "$R" run busybox sh -c 'yes 0123456789 | head -c 1000000; exit 3' | (sleep 1; wc -c)`;
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, T: bin, R: root } });
    expect(r.stdout.trim()).toBe('1000000');
    const status = spawnSync(bin, ['--root', root, 'run', 'busybox', 'sh', '-c', 'exit 3']);
    expect(status.status).toBe(3);
  });
});
