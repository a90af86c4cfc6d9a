// A registry that restarts during a push or a pull: the real docker-registry is SIGKILLed as soon as blobs start
// moving, stays down about 2 s, and starts again on the same port and storage. The CLI retries (and says so), the
// push and the pull both succeed, and the pulled image is the one pushed. A registry that stays down fails within
// the retry budget with an error naming it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO } from '../builder/helpers/tsb.js';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from '../builder/helpers/env.js';

let env: BuildTestEnv;
const LAYERS = 6;

beforeAll(async () => {
  env = await makeBuildEnv('restart');
  // six layers of 8 MiB of random bytes: blobs still queued when the registry goes down
  const ctx = join(env.work, 'big');
  await mkdir(ctx, { recursive: true });
  const runs = Array.from({ length: LAYERS }, (_, i) => `RUN head -c 8388608 /dev/urandom > /blob${i}`);
  await writeFile(join(ctx, 'Buildfile'), ['FROM busybox', ...runs, ''].join('\n'));
  const r = env.tsb(['build', '--progress=quiet', '-t', 'big:1', ctx]);
  if (r.code !== 0) throw new Error(r.stderr);
}, 300_000);
afterAll(() => closeBuildEnv(env ?? {}));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with `args`; when stderr first matches `trigger`, kills the registry, waits `downMs`, starts it again.
 */
function runWithRestart(
  root: string,
  args: string[],
  trigger: RegExp,
  downMs = 2000,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Run & { restarted: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--root', root, '--insecure-registry', env.registry.host, ...args], {
      cwd: REPO,
      env: { ...process.env, ...extraEnv },
    });
    let stdout = '';
    let stderr = '';
    let restart: Promise<void> | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!restart && trigger.test(stderr)) {
        restart = (async () => {
          await env.registry.kill();
          await new Promise((r) => setTimeout(r, downMs));
          await env.registry.start();
        })();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      void (restart ?? Promise.resolve()).then(
        () => resolve({ code: code ?? -1, stdout, stderr, restarted: restart !== undefined }),
        reject,
      );
    });
  });
}

const RETRY_LINE = new RegExp(
  `retrying 127\\.0\\.0\\.1:\\d+ \\(.*(ECONNREFUSED|ECONNRESET|socket hang up|premature close|other side closed|HTTP 50[234])`,
);

describe('registry restart', () => {
  it('a push survives the registry being killed and restarted mid-push, saying it retried', async () => {
    const dest = `${env.registry.host}/restart/big:1`;
    const r = await runWithRestart(
      env.root,
      ['push', '--progress=plain', '--concurrency', '1', 'big:1', dest],
      /uploading/,
    );
    expect(r.restarted).toBe(true);
    expect(r.stderr).toMatch(RETRY_LINE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/digest: sha256:[0-9a-f]{64}/);
  }, 180_000);

  it('a pull survives the registry being killed and restarted mid-pull; the image is the one pushed', async () => {
    const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(
      env.tsb(['push', '--progress=quiet', 'big:1', `${env.registry.host}/restart/big:1`]).stdout,
    )?.[1];
    expect(pushed).toBeDefined();
    const root = await mkdtemp(join(tmpdir(), 'tsbuild-restart-pull-'));
    try {
      const r = await runWithRestart(
        root,
        ['pull', '--progress=plain', `${env.registry.host}/restart/big:1`],
        /downloading/,
      );
      expect(r.restarted).toBe(true);
      expect(r.stderr).toMatch(RETRY_LINE);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Digest: ${pushed}`);
      // every layer is in the store, verified: `tsbuild run` reads the last one back
      const check = spawnSync(
        BIN,
        ['--root', root, 'run', '--rm', `${env.registry.host}/restart/big:1`, 'sh', '-c', `wc -c /blob${LAYERS - 1}`],
        { encoding: 'utf8', cwd: REPO },
      );
      expect(check.stdout + check.stderr).toContain('8388608');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 180_000);

  it('a registry that stays down fails within the retry budget, naming the registry', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tsbuild-restart-down-'));
    try {
      await env.registry.kill();
      const child = spawnSync(
        BIN,
        [
          '--root',
          root,
          '--insecure-registry',
          env.registry.host,
          'pull',
          '--progress=plain',
          `${env.registry.host}/restart/big:1`,
        ],
        {
          encoding: 'utf8',
          cwd: REPO,
          env: { ...process.env, TSBUILD_REGISTRY_RETRY_SECONDS: '3' },
          timeout: 60_000,
        },
      );
      expect(child.status).toBe(1);
      expect(child.stderr).toMatch(RETRY_LINE);
      expect(child.stderr).toContain(`cannot reach ${env.registry.host}`);
      expect(child.stderr).toMatch(/retried \d+ times/);
      expect(child.stderr).toContain('TSBUILD_REGISTRY_RETRY_SECONDS');
    } finally {
      await env.registry.start();
      await rm(root, { recursive: true, force: true });
    }
  }, 90_000);
});
