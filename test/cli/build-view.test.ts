// The user's view of a REAL build (bin/tsbuild, a real store, real containers): the live view on a pseudo-terminal,
// the JSON events against their schema, the report in headless Chromium, --explain-cache, and the exit codes.
// The base image is a busybox rootfs made from the host's busybox-static, imported into a private store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';
import { runOnPty } from './helpers/pty.js';
import { dumpDom, screenshot } from './helpers/chromium.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin/tsbuild');
const artifacts = join(repo, 'test-artifacts');
const schema = JSON.parse(readFileSync(join(repo, 'docs/build-events.schema.json'), 'utf8')) as object;
const validateEvent = new Ajv({ allErrors: true, strict: true }).compile(schema);

let work: string;
let root: string;
let ctx: string;

function tsbuild(
  args: string[],
  opts: { env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--root', root, ...args],
      { env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const BUILDFILE = [
  'FROM busybox:latest',
  'RUN for i in 1 2 3 4 5 6 7 8; do echo "working $i"; sleep 0.25; done',
  'COPY a.txt /a.txt',
  'RUN cat /a.txt && echo done > /done',
  'CMD ["cat", "/a.txt"]',
  '',
].join('\n');

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsbuild-view-'));
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  mkdirSync(ctx);
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(join(ctx, 'Buildfile'), BUILDFILE);
  writeFileSync(join(ctx, 'a.txt'), 'first\n');
  const rootfs = await makeBusyboxRootfs(join(work, 'rootfs'));
  const tar = join(work, 'busybox.tar');
  await new Promise<void>((res, rej) =>
    execFile('tar', ['-C', rootfs, '--numeric-owner', '-cf', tar, '.'], (e) => (e ? rej(e) : res())),
  );
  const r = await tsbuild(['import', tar, 'docker.io/library/busybox:latest']);
  if (r.code !== 0) throw new Error(`tsbuild import failed: ${r.stderr}`);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a real build, as the user sees it', () => {
  it('the live view on a pty redraws while RUN prints and ends in the summary', async () => {
    const r = await runOnPty(`'${bin}' --root '${root}' build --progress=tty -t view:1 '${ctx}'`, {
      columns: 120,
      rows: 40,
      cwd: repo,
      timeoutMs: 300_000,
    });
    const screen = r.screen.join('\n');
    expect(r.status, screen).toBe(0);
    const frames = r.raw.split('[+] Building').length - 1;
    expect(frames).toBeGreaterThan(3);
    expect(r.raw).toContain('\u001b[1A');
    expect(r.raw).toMatch(/=> => # working [1-8]/);
    // Redrawn in place: the final screen holds one header and each step once.
    expect(screen.split('[+] Building').length - 1, screen).toBe(1);
    expect(screen).toMatch(/\[\+\] Building [\d.]+s \(\d+\/\d+\) FINISHED/);
    for (const s of ['FROM busybox:latest', 'RUN for i in', 'COPY a.txt /a.txt', 'RUN cat /a.txt'])
      expect(screen.split(s).length - 1, s).toBe(1);
    expect(screen).not.toContain('=> => #');
    expect(screen).toMatch(/^Built sha256:[0-9a-f]{12} in [\d.]+s: \d+ steps, \d+ cached$/m);
  });

  it('--progress=json prints events that match the schema; a rebuild with a changed file is explained', async () => {
    writeFileSync(join(ctx, 'a.txt'), 'second\n');
    const report = join(work, 'report.html');
    const r = await tsbuild(['build', '--progress=json', '--explain-cache', '--report', report, '-t', 'view:2', ctx]);
    expect(r.code, r.stderr).toBe(0);
    // every line is an event, the explanation and the result included
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    const events = lines.map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          step?: { instruction: string };
          cached?: boolean;
          layer?: unknown;
          message?: string;
        },
    );
    for (const e of events)
      expect(validateEvent(e), `${JSON.stringify(e)}: ${JSON.stringify(validateEvent.errors)}`).toBe(true);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('build-start');
    expect(types.slice(-3)).toEqual(['build-end', 'log', 'result']);
    const explanation = events.at(-2)!.message!;
    const ends = events.filter((e) => e.type === 'step-end');
    // The slow RUN is unchanged (cached); COPY and the RUN after it ran again, and the COPY wrote a layer.
    expect(ends.find((e) => e.step!.instruction.startsWith('RUN for'))!.cached).toBe(true);
    const copy = ends.find((e) => e.step!.instruction.startsWith('COPY'))!;
    expect(copy.cached).toBe(false);
    expect(copy.layer).toBeDefined();
    // --explain-cache: the rebuilt steps are listed with a reason, the cached ones are not.
    expect(explanation).toMatch(/Rebuilt \d+ of \d+ steps?:/);
    expect(explanation).toMatch(
      /\[\S+ \d+\/\d+\] COPY a\.txt \/a\.txt {2}\(line 3\)\n {6}because file changed: a\.txt\n/,
    );
    expect(explanation).toMatch(
      /\] RUN cat \/a\.txt && echo done > \/done {2}\(line 4\)\n {6}because parent changed: \[\S+ 3\/5\] was rebuilt \(file changed: a\.txt\)/,
    );
    expect(explanation).not.toMatch(/\] RUN for i in[^\n]*\n {6}because/);
    // The report lists every step of this build, in headless Chromium.
    const dom = await dumpDom(report);
    for (const e of ends)
      expect(dom).toContain(e.step!.instruction.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    expect(dom.match(/<tr [^>]*data-step=/g)!.length).toBe(ends.length);
    await screenshot(report, join(artifacts, 'report-real-build.png'));
  });

  it('--explain-cache follows a change into the stages built FROM the changed one', async () => {
    const ms = join(work, 'multistage');
    mkdirSync(ms, { recursive: true });
    writeFileSync(
      join(ms, 'Buildfile'),
      'FROM busybox:latest AS base\nCOPY a.txt /a.txt\nFROM base AS app\nRUN cat /a.txt > /b.txt\n',
    );
    writeFileSync(join(ms, 'a.txt'), 'one\n');
    expect((await tsbuild(['build', '--progress=quiet', ms])).code).toBe(0);
    writeFileSync(join(ms, 'a.txt'), 'two\n');
    const r = await tsbuild(['build', '--progress=plain', '--explain-cache', ms]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Rebuilt 2 of 4 steps:/);
    expect(r.stderr).toContain('[base 2/2] COPY a.txt /a.txt  (line 2)\n      because file changed: a.txt\n');
    expect(r.stderr).toContain(
      '[app 2/2] RUN cat /a.txt > /b.txt  (line 4)\n      because its base stage base was rebuilt: [base 2/2] (file changed: a.txt)',
    );
  });

  it('a failed RUN exits 1 with its message on stderr; a stack trace only with --debug', async () => {
    const bad = join(work, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'Buildfile'), 'FROM busybox:latest\nRUN echo about to fail && exit 2\n');
    const report = join(work, 'failed.json');
    const r = await tsbuild(['build', '--progress=plain', '--report', report, bad]);
    expect(r.code).toBe(1);
    // The report is written for a failed build too, naming the step that failed.
    const data = JSON.parse(readFileSync(report, 'utf8')) as {
      ok: boolean;
      steps: { instruction: string; error?: string }[];
    };
    expect(data.ok).toBe(false);
    expect(data.steps.find((s) => s.instruction.startsWith('RUN echo about to fail'))!.error).toMatch(
      /exited with code 2/,
    );
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: .*RUN echo about to fail && exit 2/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const d = await tsbuild(['--debug', 'build', '--progress=plain', bad]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/^\s+at /m);
  });

  it('Ctrl-C on the terminal stops the build: the view collapses, exit 130, nothing left mounted', async () => {
    const slow = join(work, 'slow');
    mkdirSync(slow, { recursive: true });
    writeFileSync(
      join(slow, 'Buildfile'),
      'FROM busybox:latest\nRUN for i in $(seq 1 600); do echo "tick $i"; sleep 0.1; done\n',
    );
    const r = await runOnPty(`'${bin}' --root '${root}' build --progress=tty '${slow}'`, {
      columns: 100,
      rows: 30,
      cwd: repo,
      timeoutMs: 120_000,
      keys: { when: 'tick 5', send: 'C-c' },
    });
    const screen = r.screen.join('\n');
    expect(r.status, screen).toBe(130);
    expect(screen).toMatch(/^Interrupted \(SIGINT\) after [\d.]+s: \d+ steps?, \d+ cached$/m);
    expect(screen).toMatch(/\[\+\] Building [\d.]+s \(\d+\/\d+\) CANCELED/);
    expect(screen).toMatch(/CANCELED \[\S+ 2\/2\] RUN for i in/);
    expect(screen).toMatch(/^error: interrupted \(SIGINT\)$/m);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
  });

  it('usage errors exit 2: an unknown progress mode, a docker flag tsbuild does not support', async () => {
    const a = await tsbuild(['build', '--progress=fancy', ctx]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/fancy/);
    const b = await tsbuild(['build', '--add-host', 'h:1.2.3.4', ctx]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--add-host is not supported/);
  });
});
