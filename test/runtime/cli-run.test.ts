// `tsbuild run` end to end: a busybox image put into a real store, the real CLI binary, real containers.
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest, ImageIndex } from '../../oci/types.js';
import { openStore } from '../../store/index.js';
import { busyboxLayout } from '../fixtures/images.js';
import { processesMatching } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));
const IMAGE = 'docker.io/library/tsbuild-run-test:latest';
let root: string;

/** Copies an OCI layout's image into the store through the store API, and tags it. */
async function importLayout(storeRoot: string, layout: string, name: string): Promise<void> {
  const store = await openStore(storeRoot);
  try {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as ImageIndex;
    const m = index.manifests[0]!;
    const blob = (d: Digest): string => join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
    const manifestBytes = await readFile(blob(m.digest));
    const manifest = JSON.parse(manifestBytes.toString()) as {
      config: { digest: Digest; size: number };
      layers: { digest: Digest; size: number }[];
    };
    for (const b of [manifest.config, ...manifest.layers])
      await store.blobs.put(createReadStream(blob(b.digest)), { digest: b.digest, size: b.size });
    const desc = await store.blobs.putBytes(manifestBytes, m.mediaType, m.digest);
    await store.images.tag(name, desc);
  } finally {
    await store.close();
  }
}

function tsbuild(
  args: string[],
  onStdout?: (s: string) => void,
): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; pid: number } {
  const p = spawn(process.execPath, [MAIN, '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    onStdout?.(c.toString());
  });
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return { pid: p.pid!, done: new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout, stderr }))) };
}

const run = (args: string[]) => tsbuild(['run', ...args]).done;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tsbuild-cli-run-'));
  await importLayout(root, await busyboxLayout(), IMAGE);
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('tsbuild run', () => {
  it("runs the image's Cmd (stdin closed) and exits with the command's exit code", async () => {
    expect((await run([IMAGE])).code).toBe(0);
    const r = await run([IMAGE, 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
  });

  it('reports a death by signal as 128+n', async () => {
    expect((await run([IMAGE, 'sh', '-c', 'f() { f; }; f'])).code).toBe(128 + 11);
  });

  it('applies --network, --user, --env, --workdir, --hostname in both isolations', async () => {
    for (const isolation of ['chroot', 'pivot']) {
      const r = await run([
        '--network',
        'none',
        '--user',
        'nobody',
        '--env',
        'GREETING=hi there',
        '--workdir',
        '/made/here',
        '--hostname',
        'box',
        '--isolation',
        isolation,
        IMAGE,
        '--',
        'sh',
        '-c',
        'id -u; echo "$GREETING"; pwd; hostname; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; echo $PATH',
      ]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(
        '65534\nhi there\n/made/here\nbox\nlo\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n',
      );
      expect(r.code).toBe(0);
    }
  });

  it('applies --pids-limit and --memory through a cgroup', async () => {
    const r = await run([
      '--pids-limit',
      '4',
      '--memory',
      '64m',
      IMAGE,
      '--',
      'sh',
      '-c',
      'grep -c tsbuild- /proc/self/cgroup; for i in 1 2 3 4 5 6; do sleep 1 & done; wait',
    ]);
    // cgroup v1 (this host): one line per controller (memory, pids); v2: the one unified line
    expect(r.stdout).toBe(existsSync('/sys/fs/cgroup/cgroup.controllers') ? '1\n' : '2\n');
    expect(r.stderr).toMatch(/fork|Resource temporarily unavailable/i);
  });

  it("discards the container's changes", async () => {
    expect((await run([IMAGE, 'sh', '-c', 'echo x > /root/kept'])).code).toBe(0);
    const r = await run([IMAGE, 'cat', '/root/kept']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No such file');
  });

  it('an unknown image fails with a message naming it', async () => {
    const r = await run(['no-such-image:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no-such-image');
  });

  it('Ctrl-C during `sleep 100` kills the container and returns within a second, leaving nothing behind', async () => {
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    const cli = tsbuild(['run', IMAGE, 'sh', '-c', 'echo up; exec sleep 983'], (s) => s.includes('up') && ready());
    try {
      await Promise.race([
        started,
        cli.done.then((r) => Promise.reject(new Error(`tsbuild run exited early: ${r.stderr}`))),
      ]);
      for (let i = 0; i < 200 && (await processesMatching('sleep 983')).length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(await processesMatching('sleep 983')).toHaveLength(1);
      const t = performance.now();
      process.kill(cli.pid, 'SIGINT');
      const r = await cli.done;
      expect(performance.now() - t).toBeLessThan(1000); // the bound
      expect(r.code).toBe(130);
      expect(await processesMatching('sleep 983')).toEqual([]);
      const mounts = await readFile('/proc/self/mountinfo', 'utf8');
      expect(mounts).not.toContain(root);
      expect(mounts).not.toMatch(/\/run\/tsbuild\/c\/\d+-/);
    } finally {
      try {
        process.kill(cli.pid, 'SIGKILL');
      } catch {
        // exited
      }
    }
  });
});
