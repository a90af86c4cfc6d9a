// Issue 14 (part A), each through real builds against the test registry: --platform forms (a list and a malformed
// value refused at once, a base of another platform warned about as BuildKit does), ADD of Git URLs refused,
// ADD --checksum rules and algorithms, RUN --mount=type=secret,env=, the SOURCE_DATE_EPOCH build arg, and the
// `# syntax=` directive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, type RegistryFixture } from '../fixtures/registry.js';
import { hostPlatform } from '../../oci/index.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, stepResults, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
let server: ChildProcess;
let base: string;
const requests: string[] = [];
const PAYLOAD = 'payload served over HTTP\n';

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('flags'));
  // The file server runs in its own process (the CLI runs synchronously from this one); its log is the request list.
  const served = join(work, 'served');
  await mkdir(served, { recursive: true });
  await writeFile(join(served, 'payload.txt'), PAYLOAD);
  const port = await freePort();
  server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', served], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  server.stderr!.on('data', (c: Buffer) =>
    requests.push(
      ...c
        .toString()
        .split('\n')
        .filter((l) => l.includes('"GET')),
    ),
  );
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${base}/payload.txt`).then(
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

let n = 0;
/** A fresh context directory with this Buildfile (and files). */
async function context(buildfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, `ctx-${++n}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

function warnings(stderr: string): string[] {
  return events(stderr).flatMap((e) => (e.type === 'log' && e.level === 'warn' ? [e.message] : []));
}

/** The check-warning events of a --progress=json stream. */
function checks(stderr: string): { rule: string; message: string; line: number }[] {
  return events(stderr).flatMap((e) =>
    e.type === 'check-warning' ? [e as unknown as { rule: string; message: string; line: number }] : [],
  );
}

/** Every file under `dir`, read as text, joined. */
async function allText(dir: string): Promise<string> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out.push(await readFile(join(e.parentPath, e.name), 'utf8'));
  return out.join('\n');
}

interface Inspected {
  config: { architecture: string; os: string; created?: string; history?: { created?: string; created_by?: string }[] };
}
function inspect(name: string): Inspected {
  const r = tsb(['inspect', name]);
  ok(r, `inspect ${name}`);
  return JSON.parse(r.stdout) as Inspected;
}

// a platform the test host is not: the busybox base in the registry is the host's only
const other = hostPlatform().architecture === 'arm64' ? 'linux/amd64' : 'linux/arm64';
const host = `linux/${hostPlatform().architecture}`;

describe('--platform', () => {
  it('refuses a list with a malformed or empty entry with exit 2 naming the flag, before the build starts', async () => {
    const ctx = await context('FROM busybox:latest\n');
    for (const [list, message] of [
      ['linux/amd64,linux/arm 64', '--platform: invalid platform "linux/arm 64": expected os/arch[/variant]'],
      ['linux/amd64,,linux/arm64', '--platform: invalid platform list "linux/amd64,,linux/arm64": an empty entry'],
    ]) {
      const r = tsb(['build', '--progress=json', '--platform', list!, ctx]);
      expect(r.code).toBe(2);
      // nothing was built: the JSON stream holds the error event alone
      const evs = events(r.stderr);
      expect(evs.map((e) => e.type)).toEqual(['error']);
      expect(evs[0]).toMatchObject({ exitCode: 2 });
      expect(evs[0]!.type === 'error' && evs[0]!.message).toContain(message);
    }
  });

  it('refuses a malformed platform with exit 2 naming the flag, not the Buildfile', async () => {
    const ctx = await context('FROM busybox:latest\n');
    for (const p of ['linx', 'linux/', 'linux/amd 64']) {
      const r = tsb(['build', '--progress=json', '--platform', p, ctx]);
      expect(r.code, p).toBe(2);
      expect(r.stderr).not.toContain('Buildfile');
      const evs = events(r.stderr);
      expect(evs.map((e) => e.type)).toEqual(['error']);
      expect(evs[0]).toMatchObject({ exitCode: 2 });
      const message = evs[0]!.type === 'error' ? evs[0]!.message : '';
      expect(message).toContain(`--platform: invalid platform "${p}": `);
      expect(message).toContain('expected os/arch[/variant]');
    }
  });

  it('refuses FROM --platform= with a list, at its line', async () => {
    const ctx = await context('FROM busybox:latest\nFROM --platform=linux/amd64,linux/arm64 busybox:latest\n');
    const r = tsb(['build', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Buildfile:2: "linux\/amd64,linux\/arm64" is a list of platforms/);
  });

  it("warns with BuildKit's InvalidBaseImagePlatform when the base's platform is not the target's, and builds", async () => {
    const ctx = await context('FROM busybox:latest\nCOPY f /f\n', { f: 'x\n' });
    const message = `Base image busybox:latest was pulled with platform "${host}", expected "${other}" for current build`;
    const r = tsb(['build', '--progress=json', '--platform', other, '-t', 'flags-other:1', ctx]);
    ok(r, 'build for another platform');
    expect(checks(r.stderr)).toContainEqual(
      expect.objectContaining({ rule: 'InvalidBaseImagePlatform', message, line: 1 }),
    );
    // as BuildKit does, the image is labelled with the platform asked for
    expect(`${inspect('flags-other:1').config.os}/${inspect('flags-other:1').config.architecture}`).toBe(other);
    // in buildx's summary of the checks, after the build
    const plain = tsb(['build', '--progress=plain', '--platform', other, ctx]);
    ok(plain, 'plain');
    expect(plain.stderr).toContain(` - InvalidBaseImagePlatform: ${message} (line 1)`);
    // the host's own platform: no warning
    const same = tsb(['build', '--progress=json', '--platform', host, ctx]);
    ok(same, 'host platform');
    expect(checks(same.stderr)).toEqual([]);
  });

  it('is a build check: # check=skip= silences it, error=true fails the build after the stages ran', async () => {
    const skipped = await context('# check=skip=InvalidBaseImagePlatform\nFROM busybox:latest\nCOPY f /f\n', {
      f: 'x\n',
    });
    const s = tsb(['build', '--progress=json', '--platform', other, skipped]);
    ok(s, 'skipped');
    expect(checks(s.stderr)).toEqual([]);
    const strict = await context('# check=error=true\nFROM busybox:latest\nCOPY f /f\n', { f: 'x\n' });
    const e = tsb(['build', '--progress=plain', '--platform', other, '-t', 'flags-strict:1', strict]);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toContain('lint violation found for rules: InvalidBaseImagePlatform');
    expect(tsb(['inspect', 'flags-strict:1']).code).not.toBe(0);
  });
});

// ADD of a Git repository: test/sources/git.test.ts (against real Git servers).

describe('a flag BuildKit knows and tsbuild cannot honour', () => {
  it('fails with exit 2 naming it, at its line', async () => {
    const ctx = await context('FROM busybox:latest\nRUN --device=/dev/fuse true\n');
    const r = tsb(['build', ctx]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Buildfile:2: RUN --device is not supported by tsbuild');
  });
});

describe('ADD --checksum', () => {
  it('is an error on a local source, with BuildKit message', async () => {
    const ctx = await context(`FROM busybox:latest\nADD --checksum=sha256:${'0'.repeat(64)} f /f\n`, { f: 'x\n' });
    const r = tsb(['build', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('checksum requires HTTP(S) or Git sources');
  });

  it('verifies sha512 and sha384 checksums (and reports a wrong one with its algorithm)', async () => {
    const sha512 = createHash('sha512').update(PAYLOAD).digest('hex');
    const sha384 = createHash('sha384').update(PAYLOAD).digest('hex');
    const good = await context(
      `FROM busybox:latest\nADD --checksum=sha512:${sha512} ${base}/payload.txt /a\nADD --checksum=sha384:${sha384} ${base}/payload.txt /b\n`,
    );
    const out = join(work, 'checksum-out');
    ok(tsb(['build', '-o', `type=local,dest=${out}`, good]), 'correct sha512 and sha384');
    expect(await readFile(join(out, 'a'), 'utf8')).toBe(PAYLOAD);
    expect(await readFile(join(out, 'b'), 'utf8')).toBe(PAYLOAD);
    const bad = await context(`FROM busybox:latest\nADD --checksum=sha384:${'0'.repeat(96)} ${base}/payload.txt /a\n`);
    const r = tsb(['build', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`checksum mismatch: expected sha384:${'0'.repeat(96)}, got sha384:${sha384}`);
  });
});

describe('RUN --mount=type=secret,env=', () => {
  const VALUE = 'tok-6b1f0e-very-secret';

  it('puts the secret in the variable for that RUN only, never in the key, image, events, report or explanations', async () => {
    const secret = join(work, 'secret.txt');
    await writeFile(secret, VALUE);
    const ctx = await context(
      [
        'FROM busybox:latest',
        // the value itself is not written anywhere: its hash is, to compare
        'RUN --mount=type=secret,id=tok,env=TOKEN printf %s "$TOKEN" | sha256sum > /env-sum',
        'RUN --mount=type=secret,id=tok,env=TOKEN2,target=/run/t test "$TOKEN2" = "$(cat /run/t)" && echo both > /both',
        'RUN test -z "$TOKEN" && test ! -e /run/secrets/tok && echo gone > /gone',
        '',
      ].join('\n'),
    );
    const report = join(work, 'secret-report.json');
    const out = join(work, 'secret-out');
    const r = tsb([
      'build',
      '--progress=json',
      '--report',
      report,
      '--explain-cache',
      '--secret',
      `id=tok,src=${secret}`,
      '-o',
      `type=local,dest=${out}`,
      '-t',
      'flags-secret:1',
      ctx,
    ]);
    ok(r, 'secret env build');
    expect((await readFile(join(out, 'env-sum'), 'utf8')).split(' ')[0]).toBe(
      createHash('sha256').update(VALUE).digest('hex'),
    );
    expect((await readFile(join(out, 'both'), 'utf8')).trim()).toBe('both');
    expect((await readFile(join(out, 'gone'), 'utf8')).trim()).toBe('gone');
    // not in the events (--progress=json), the --explain-cache lines, the report, the image config or history,
    // nor the filesystem
    expect(r.stderr + r.stdout).not.toContain(VALUE);
    expect(await readFile(report, 'utf8')).not.toContain(VALUE);
    expect(JSON.stringify(inspect('flags-secret:1'))).not.toContain(VALUE);
    expect(await allText(out)).not.toContain(VALUE);

    // another value: the same key, so every step is cached
    await writeFile(secret, 'another-value');
    const again = tsb(['build', '--progress=json', '--secret', `id=tok,src=${secret}`, ctx]);
    ok(again, 'rebuild with another value');
    expect(stepResults(events(again.stderr)).every((s) => s.cached)).toBe(true);
  });

  it('fails a RUN whose required secret was not given', async () => {
    const ctx = await context('FROM busybox:latest\nRUN --mount=type=secret,id=nope,env=X,required=true true\n');
    const r = tsb(['build', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('secret nope is required but was not given');
  });
});

describe('SOURCE_DATE_EPOCH', () => {
  it('is taken from --build-arg, which wins over the environment variable, without an unused-arg warning', async () => {
    const ctx = await context('FROM busybox:latest\nCOPY f /f\n', { f: 'epoch\n' });
    const r = tsb(
      ['build', '--progress=json', '--build-arg', 'SOURCE_DATE_EPOCH=1000000000', '-t', 'flags-sde:1', ctx],
      {
        env: { SOURCE_DATE_EPOCH: '1500000000' },
      },
    );
    ok(r, 'build with the build arg');
    const cfg = inspect('flags-sde:1').config;
    expect(cfg.created).toBe('2001-09-09T01:46:40Z');
    expect(cfg.history?.at(-1)?.created).toBe('2001-09-09T01:46:40Z');
    expect(warnings(r.stderr).filter((w) => w.includes('SOURCE_DATE_EPOCH'))).toEqual([]);
  });

  it('refuses a malformed build arg with exit 2', async () => {
    const ctx = await context('FROM busybox:latest\n');
    const r = tsb(['build', '--build-arg', 'SOURCE_DATE_EPOCH=yesterday', ctx]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--build-arg SOURCE_DATE_EPOCH="yesterday": expected a number of seconds');
  });
});

describe('# syntax=', () => {
  it('warns once when the Buildfile asks for another frontend, in json and plain progress', async () => {
    const ctx = await context('# syntax=example.com/other/frontend:2\nFROM busybox:latest\n');
    const want =
      '# syntax=example.com/other/frontend:2: tsbuild does not run other frontends; it builds with its built-in parser (docker/dockerfile:1), without the extensions example.com/other/frontend:2 may have';
    const r = tsb(['build', '--progress=json', ctx]);
    ok(r, 'other frontend');
    expect(warnings(r.stderr).filter((w) => w.startsWith('# syntax='))).toEqual([want]);
    const plain = tsb(['build', '--progress=plain', ctx]);
    ok(plain, 'plain');
    expect(plain.stderr).toContain(`WARNING: ${want}`);
  });

  it('is silent for docker/dockerfile:1', async () => {
    const ctx = await context('# syntax=docker/dockerfile:1.7\nFROM busybox:latest\n');
    const r = tsb(['build', '--progress=json', ctx]);
    ok(r, 'official frontend');
    expect(warnings(r.stderr)).toEqual([]);
  });
});
