// Issue 14 (part A), each through real builds against the test registry: --platform forms (a list and a malformed
// value refused at once, a base of another platform warned about as BuildKit does), the SOURCE_DATE_EPOCH build
// arg, and the `# syntax=` directive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { hostPlatform } from '../../oci/index.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('flags'));
});

afterAll(async () => {
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
  it('refuses a list with exit 2 naming the flag, before the build starts', async () => {
    const ctx = await context('FROM busybox:latest\n');
    const r = tsb(['build', '--progress=json', '--platform', 'linux/amd64,linux/arm64', ctx]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'error: --platform: "linux/amd64,linux/arm64" is a list of platforms: multi-platform builds are not supported yet',
    );
    expect(events(r.stderr)).toEqual([]);
  });

  it('refuses a malformed platform with exit 2 naming the flag, not the Buildfile', async () => {
    const ctx = await context('FROM busybox:latest\n');
    for (const p of ['linux', 'linux/', 'linux/amd 64']) {
      const r = tsb(['build', '--progress=json', '--platform', p, ctx]);
      expect(r.code, p).toBe(2);
      expect(r.stderr).toContain(`error: --platform: invalid platform "${p}": expected os/arch[/variant]`);
      expect(r.stderr).not.toContain('Buildfile');
      expect(events(r.stderr)).toEqual([]);
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
    const want = `InvalidBaseImagePlatform: Base image busybox:latest was pulled with platform "${host}", expected "${other}" for current build (line 1)`;
    const r = tsb(['build', '--progress=json', '--platform', other, '-t', 'flags-other:1', ctx]);
    ok(r, 'build for another platform');
    expect(warnings(r.stderr)).toContain(want);
    // as BuildKit does, the image is labelled with the platform asked for
    expect(`${inspect('flags-other:1').config.os}/${inspect('flags-other:1').config.architecture}`).toBe(other);
    const plain = tsb(['build', '--progress=plain', '--platform', other, ctx]);
    ok(plain, 'plain');
    expect(plain.stderr).toContain(`WARNING: ${want}`);
    // the host's own platform: no warning
    const same = tsb(['build', '--progress=json', '--platform', host, ctx]);
    ok(same, 'host platform');
    expect(warnings(same.stderr).filter((w) => w.includes('InvalidBaseImagePlatform'))).toEqual([]);
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
