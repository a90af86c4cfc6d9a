// Instructions and flags end to end, each checked from inside the built image: heredoc RUN and COPY, RUN
// --network=none, bind mounts from the context and from a stage, tmpfs, ONBUILD triggers, COPY --from an image,
// ADD of a URL with --checksum, SHELL, and the CMD reset rule of ENTRYPOINT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, type RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
let server: ChildProcess;
let url: string;
const PAYLOAD = 'downloaded payload\n';

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('features'));
  // The file server runs in its own process: the CLI runs synchronously from this one.
  const served = join(work, 'served');
  await mkdir(join(served, 'files'), { recursive: true });
  await writeFile(join(served, 'files/payload.txt'), PAYLOAD);
  const port = await freePort();
  server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', served], {
    stdio: 'ignore',
  });
  url = `http://127.0.0.1:${port}/files/payload.txt`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (server?.pid) {
    server.kill();
    await new Promise((r) => server.once('exit', r));
  }
  await closeBuildEnv({ registry, root, work });
});

async function context(name: string, buildfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  for (const [f, c] of Object.entries(files)) await writeFile(join(dir, f), c);
  return dir;
}

describe('instructions end to end', () => {
  it('heredocs, network none, bind and tmpfs mounts, SHELL, ADD URL with checksum', async () => {
    const sum = createHash('sha256').update(PAYLOAD).digest('hex');
    const dir = await context(
      'features',
      [
        'FROM busybox:latest AS tools',
        'RUN echo "from a stage" > /tool.txt',
        'FROM busybox:latest',
        'RUN <<EOF',
        'echo "heredoc line 1" > /heredoc-run.txt',
        'echo "heredoc line 2" >> /heredoc-run.txt',
        'EOF',
        'COPY <<EOF /heredoc-copy.txt',
        'copied by heredoc',
        'EOF',
        'RUN --network=none ip -o link | grep -v " lo:" | wc -l > /net-devices.txt',
        'RUN --mount=type=bind,source=input.txt,target=/mnt/input.txt cat /mnt/input.txt > /from-bind.txt',
        'RUN --mount=type=bind,from=tools,source=/tool.txt,target=/mnt/tool.txt cp /mnt/tool.txt /from-stage-bind.txt',
        'RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /tmpfs-listing.txt',
        `ADD --checksum=sha256:${sum} ${url} /downloads/`,
        'SHELL ["/bin/sh", "-e", "-c"]',
        'RUN echo "$-" > /shell-flags.txt',
        'CMD ["cat", "/heredoc-run.txt", "/heredoc-copy.txt", "/net-devices.txt", "/from-bind.txt", "/from-stage-bind.txt", "/tmpfs-listing.txt", "/downloads/payload.txt", "/shell-flags.txt"]',
        '',
      ].join('\n'),
      { 'input.txt': 'bound from the context\n' },
    );
    ok(tsb(['build', '-q', '-t', 'features:1', dir]), 'build');
    const r = tsb(['run', 'features:1']);
    ok(r, 'run');
    const lines = r.stdout.split('\n');
    expect(lines.at(-2)).toContain('e'); // SHELL's -e is in effect
    expect(lines.slice(0, -2).join('\n')).toBe(
      [
        'heredoc line 1',
        'heredoc line 2',
        'copied by heredoc',
        '0',
        'bound from the context',
        'from a stage',
        'x',
        PAYLOAD.trim(),
      ].join('\n'),
    );
    // the mounts left nothing behind in the image
    const ls = tsb(['run', 'features:1', 'sh', '-c', 'ls -A /mnt /scratch 2>/dev/null | wc -l']);
    expect(ls.stdout.trim()).toBe('0');

    const bad = await context('badsum', `FROM busybox:latest\nADD --checksum=sha256:${'0'.repeat(64)} ${url} /x\n`);
    const b = tsb(['build', '-q', bad]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/checksum mismatch/);
  });

  it('ONBUILD triggers run in the child build; ENTRYPOINT drops an inherited CMD', async () => {
    const parent = await context(
      'parent',
      'FROM busybox:latest\nONBUILD COPY marker.txt /marker.txt\nONBUILD RUN echo triggered > /triggered.txt\nCMD ["echo", "parent cmd"]\n',
      { 'marker.txt': 'from the child context\n' },
    );
    ok(tsb(['build', '-q', '-t', 'onbuild-parent:1', parent]), 'parent');
    const child = await context('child', 'FROM onbuild-parent:1\nENTRYPOINT ["cat"]\n', {
      'marker.txt': 'from the child context\n',
    });
    ok(tsb(['build', '-q', '-t', 'onbuild-child:1', child]), 'child');
    const r = tsb(['run', 'onbuild-child:1', '/marker.txt', '/triggered.txt']);
    ok(r, 'run child');
    expect(r.stdout).toBe('from the child context\ntriggered\n');
    // no CMD left: ENTRYPOINT alone runs `cat` with no file, reading empty stdin
    const noCmd = tsb(['run', 'onbuild-child:1']);
    expect(noCmd.stdout).toBe('');
  });

  it('COPY --parents keeps source paths, --exclude leaves files out, --no-cache reruns everything', async () => {
    const dir = await context(
      'parents',
      'FROM busybox:latest\nCOPY --parents a/*/x.txt /p/\nCOPY --exclude=*.log --exclude=skip a /e/\nRUN find /p /e -type f | sort > /list\n',
    );
    for (const f of ['a/one/x.txt', 'a/two/x.txt', 'a/two/y.txt', 'a/keep.txt', 'a/drop.log', 'a/skip/z.txt']) {
      await mkdir(join(dir, f, '..'), { recursive: true });
      await writeFile(join(dir, f), f);
    }
    ok(tsb(['build', '-q', '-t', 'parents:1', dir]), 'build');
    expect(tsb(['run', 'parents:1', 'cat', '/list']).stdout.trim().split('\n')).toEqual([
      '/e/keep.txt',
      '/e/one/x.txt',
      '/e/two/x.txt',
      '/e/two/y.txt',
      '/p/a/one/x.txt',
      '/p/a/two/x.txt',
    ]);
    const again = tsb(['build', '--progress=plain', '--no-cache', '-t', 'parents:1', dir]);
    ok(again, 'no-cache build');
    expect(again.stderr).not.toMatch(/\] (COPY|RUN) .* CACHED$/m);
  });

  it('COPY --from an image by name', async () => {
    const dir = await context(
      'from-image',
      'FROM busybox:latest\nCOPY --from=onbuild-parent:1 /bin/busybox /opt/busybox\nRUN /opt/busybox true && echo ok > /ok\n',
    );
    ok(tsb(['build', '-q', '-t', 'from-image:1', dir]), 'build');
    expect(tsb(['run', 'from-image:1', 'cat', '/ok']).stdout).toBe('ok\n');
  });
});
