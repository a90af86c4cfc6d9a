// `--progress=json` streams hold only JSON, whatever happens: a real build's result and a failed build's error are
// events (schema-valid), and so are the usage errors and the errors of pull and push, so `jq` never breaks.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin/tsbuild');
const schema = JSON.parse(readFileSync(join(repo, 'docs/build-events.schema.json'), 'utf8')) as object;
const validateEvent = new Ajv({ allErrors: true, strict: true }).compile(schema);

let work: string;
let root: string;

function tsbuild(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, ['--root', root, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

type Event = { type: string; [k: string]: unknown };

/** Every line of `text` as JSON (a line that is not JSON fails the test, naming it). */
function jsonLines(text: string): Event[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Event;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

function context(name: string, buildfile: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Buildfile'), buildfile);
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsbuild-json-'));
  root = join(work, 'root');
  const rootfs = await makeBusyboxRootfs(join(work, 'rootfs'));
  const tar = join(work, 'busybox.tar');
  await new Promise<void>((res, rej) =>
    execFile('tar', ['-C', rootfs, '--numeric-owner', '-cf', tar, '.'], (e) => (e ? rej(e) : res())),
  );
  const r = await tsbuild(['import', tar, 'docker.io/library/busybox:latest']);
  if (r.code !== 0) throw new Error(`tsbuild import failed: ${r.stderr}`);
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('--progress=json holds only events', () => {
  it('a build ends with a result event (the image and its names) instead of text lines', async () => {
    const dir = context('ok', 'FROM busybox:latest\nRUN echo hello > /hello\n');
    const r = await tsbuild(['build', '--progress=json', '-t', 'json-ok:1', dir]);
    expect(r.code, r.stderr).toBe(0);
    const events = jsonLines(r.stderr);
    for (const e of events)
      expect(validateEvent(e), `${JSON.stringify(e)} ${JSON.stringify(validateEvent.errors)}`).toBe(true);
    expect(r.stderr).not.toContain('naming to');
    const result = events.at(-1)!;
    expect(result.type).toBe('result');
    expect(result.tags).toEqual(['docker.io/library/json-ok:1']);
    const end = events.find((e) => e.type === 'build-end')!;
    expect(result.imageId).toBe(end.imageId);
    expect(r.stdout).toBe('');
  });

  it('a failed build ends with an error event carrying the message and the exit code', async () => {
    const dir = context('bad', 'FROM busybox:latest\nRUN echo about to fail && exit 3\n');
    const r = await tsbuild(['build', '--progress=json', dir]);
    expect(r.code).toBe(1);
    const events = jsonLines(r.stderr);
    for (const e of events) expect(validateEvent(e), JSON.stringify(e)).toBe(true);
    const err = events.at(-1)!;
    expect(err.type).toBe('error');
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('RUN echo about to fail && exit 3');
    expect(events.at(-2)!.type).toBe('build-end');
  });

  it("usage errors, commander's and tsbuild's, are error events with exit code 2", async () => {
    const dir = context('usage', 'FROM busybox:latest\n');
    for (const args of [
      ['build', '--progress=json', '--frob', dir],
      ['build', '--progress', 'json', '--add-host', 'h:1.2.3.4', dir],
      ['build', '--progress=json', '--secret', 'id=s,src=/nonexistent/tsbuild-secret', dir],
    ]) {
      const r = await tsbuild(args);
      expect(r.code, r.stderr).toBe(2);
      const events = jsonLines(r.stderr);
      const err = events.at(-1)!;
      expect(err).toMatchObject({ type: 'error', exitCode: 2, code: 'USAGE' });
      for (const e of events) expect(validateEvent(e), JSON.stringify(e)).toBe(true);
    }
  });

  it('build --check: the notices on stderr are log events, the warnings on stdout check-warning events', async () => {
    const dir = context('check', '# check=experimental=all\nFROM busybox:latest as base\n');
    const r = await tsbuild(['build', '--check', '--progress=json', dir]);
    expect(r.code).toBe(1);
    const notices = jsonLines(r.stderr);
    expect(notices.map((e) => [e.type, e.level])).toEqual([['log', 'warn']]);
    expect(notices[0]!.message).toContain('experimental=all');
    const warnings = jsonLines(r.stdout);
    expect(warnings.map((e) => e.rule)).toContain('FromAsCasing');
    for (const e of [...notices, ...warnings]) expect(validateEvent(e), JSON.stringify(e)).toBe(true);
  });

  it('pull and push: their errors are JSON lines too', async () => {
    const push = await tsbuild(['push', '--progress=json', 'no-such-image:1']);
    expect(push.code).toBe(2);
    expect(jsonLines(push.stderr).at(-1)).toMatchObject({ type: 'error', exitCode: 2 });
    const pull = await tsbuild(
      ['--insecure-registry', '127.0.0.1:1', 'pull', '--progress=json', '--verbose', '127.0.0.1:1/x/y:1'],
      {
        TSBUILD_REGISTRY_RETRY_SECONDS: '1',
      },
    );
    expect(pull.code).toBe(1);
    const events = jsonLines(pull.stderr);
    expect(events.at(-1)).toMatchObject({ type: 'error', exitCode: 1, code: 'REGISTRY' });
    expect(events.at(-1)!.message).toContain('127.0.0.1:1');
    // --verbose diagnostics are events there too
    expect(events.some((e) => e.type === 'log' && String(e.message).startsWith('[registry] '))).toBe(true);
  });
});
