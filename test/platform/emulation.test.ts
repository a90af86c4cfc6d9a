// Foreign-platform builds end to end: a RUN of an arm64 or arm/v7 base runs through qemu-user-static (binfmt_misc,
// flag F), the image says so in its config, podman runs the pushed image on that platform; and what cannot work
// (no emulator, a platform the base lacks, a malformed platform) fails before any step with a message that says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedMultiarch, type MultiarchSeed } from '../fixtures/multiarch.js';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from '../builder/helpers/env.js';
import { events, ok } from '../builder/helpers/tsb.js';
import { podmanRun } from './podman.js';

let env: BuildTestEnv;
let seed: MultiarchSeed;

beforeAll(async () => {
  env = await makeBuildEnv('emu', async (host) => (seed = await seedMultiarch(host)));
});
afterAll(async () => closeBuildEnv(env));

async function context(name: string, buildfile: string): Promise<string> {
  const dir = join(env.work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), buildfile);
  return dir;
}

interface Config {
  os: string;
  architecture: string;
  variant?: string;
}

function registryConfig(ref: string): Config {
  return JSON.parse(
    execFileSync('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${ref}`], {
      encoding: 'utf8',
    }),
  ) as Config;
}

const RUN_ARCH = 'FROM busybox-multi\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n';

describe('emulated RUN steps', () => {
  it.each([
    ['linux/arm64', 'arm64', undefined, 'aarch64'],
    ['linux/arm/v7', 'arm', 'v7', 'armv7l'],
  ])(
    '--platform %s: RUN runs the foreign busybox, the pushed image runs under podman',
    async (platform, arch, variant, uname) => {
      const ctx = await context(`run-${arch}`, RUN_ARCH);
      const ref = `${env.registry.host}/emu/${arch}:1`;
      const b = env.tsb(['build', '--progress=plain', '--platform', platform, '-t', ref, '--push', ctx]);
      ok(b, `build ${platform}`);
      expect(b.stderr).not.toContain('InvalidBaseImagePlatform');
      const cfg = registryConfig(ref);
      expect([cfg.os, cfg.architecture, cfg.variant]).toEqual(['linux', arch, variant]);
      const r = env.tsb(['run', ref]);
      ok(r, 'tsbuild run');
      expect(r.stdout.trim()).toBe(uname);
      expect(podmanRun(env.work, ref, platform, []).trim()).toBe(uname);
    },
  );

  it('one store, three platforms of one base: each build gets its own platform of the index', async () => {
    // each build leaves busybox-multi in the store as the platform it pulled; the next must not reuse that (arm64
    // could even run the arm/v7 one, but the index has arm64)
    const ctx = await context('run-seq', RUN_ARCH);
    ok(env.tsb(['build', '-q', '--platform', 'linux/arm/v7', '-t', 'emu/v7:1', ctx]), 'arm/v7');
    ok(env.tsb(['build', '-q', '--platform', 'linux/arm64', '-t', 'emu/a:1', ctx]), 'arm64');
    ok(env.tsb(['build', '-q', '-t', 'emu/h:1', ctx]), 'host');
    expect(env.tsb(['run', 'emu/v7:1']).stdout.trim()).toBe('armv7l');
    expect(env.tsb(['run', 'emu/a:1']).stdout.trim()).toBe('aarch64');
    expect(env.tsb(['run', 'emu/h:1']).stdout.trim()).toBe('x86_64');
  });

  it('tsbuild run --platform picks that platform from a stored index', () => {
    ok(env.tsb(['pull', '--all-platforms', seed.index]), 'pull --all-platforms');
    expect(env.tsb(['run', '--platform', 'linux/arm/v7', seed.index, 'uname', '-m']).stdout.trim()).toBe('armv7l');
    expect(env.tsb(['run', '--platform', 'linux/arm64', seed.index, 'uname', '-m']).stdout.trim()).toBe('aarch64');
    expect(env.tsb(['run', seed.index, 'uname', '-m']).stdout.trim()).toBe('x86_64');
    const r = env.tsb(['run', '--platform', 'linux/arm64', 'emu/h:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('image "emu/h:1" is linux/amd64, not the linux/arm64 asked for');
  });
});

describe('a host without the emulator', () => {
  let empty: string;
  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), 'tsbuild-no-binfmt-'));
  });
  afterAll(async () => rm(empty, { recursive: true, force: true }));

  it('fails before the first step, naming the platform and the fix', async () => {
    const ctx = await context('no-emu', 'FROM busybox-multi\nRUN echo never > /x\n');
    const r = env.tsb(['build', '--progress=json', '--platform', 'linux/arm64', '--no-cache', ctx], {
      env: { TSBUILD_BINFMT_DIR: empty },
    });
    expect(r.code).toBe(1);
    const evs = events(r.stderr);
    const end = evs.find((e) => e.type === 'build-end');
    expect(end && 'error' in end ? end.error : '').toBe(
      `RUN in stage stage-0 needs platform linux/arm64, which this linux/amd64 host cannot run: binfmt_misc is not mounted at ${empty}`,
    );
    // no step started and no base image was pulled
    expect(evs.filter((e) => e.type === 'step-start' || e.type === 'pull-progress')).toEqual([]);
    const plain = env.tsb(['build', '--platform', 'linux/arm/v7', ctx], { env: { TSBUILD_BINFMT_DIR: empty } });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('needs platform linux/arm/v7');
    expect(plain.stderr).toContain('apt-get install qemu-user-static binfmt-support');
  });

  it('a stage without RUN needs no emulator (COPY into a foreign base)', async () => {
    const ctx = await context('no-emu-copy', 'FROM busybox-multi\nCOPY Dockerfile /Dockerfile\n');
    const r = env.tsb(['build', '-q', '--platform', 'linux/arm64', ctx], { env: { TSBUILD_BINFMT_DIR: empty } });
    ok(r, 'COPY-only foreign build');
  });

  it('the cross-compile pattern needs none: RUN on $BUILDPLATFORM, COPY into the foreign target', async () => {
    const ctx = await context(
      'cross',
      'FROM --platform=$BUILDPLATFORM busybox-multi AS build\nARG TARGETARCH\n' +
        'RUN echo "built on $(uname -m) for $TARGETARCH" > /out\n' +
        'FROM busybox-multi\nCOPY --from=build /out /out\nCMD ["cat", "/out"]\n',
    );
    const r = env.tsb(['build', '-q', '--platform', 'linux/arm64', '-t', 'emu/cross:1', ctx], {
      env: { TSBUILD_BINFMT_DIR: empty },
    });
    ok(r, 'cross-compile build without emulators');
    // run with the real emulators: the target is arm64, what it copied was made natively
    expect(env.tsb(['run', 'emu/cross:1']).stdout.trim()).toBe('built on x86_64 for arm64');
  });

  it('FROM --platform= of one stage is checked as that stage, in a build for the host', async () => {
    const ctx = await context(
      'stage-platform',
      'FROM --platform=linux/arm/v7 busybox-multi AS arm\nRUN uname -m > /m\n' +
        'FROM busybox-multi\nCOPY --from=arm /m /m\nCMD ["cat", "/m"]\n',
    );
    const r = env.tsb(['build', '-q', ctx], { env: { TSBUILD_BINFMT_DIR: empty } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('RUN in stage arm needs platform linux/arm/v7');
    ok(env.tsb(['build', '-q', '-t', 'emu/stage:1', ctx]), 'with the emulators');
    expect(env.tsb(['run', 'emu/stage:1']).stdout.trim()).toBe('armv7l');
  });

  it('tsbuild run of a foreign image fails the same way instead of "exec format error"', () => {
    const r = env.tsb(['run', 'emu/a:1'], { env: { TSBUILD_BINFMT_DIR: empty } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('image "emu/a:1" needs platform linux/arm64');
  });
});

describe('platforms a base does not offer', () => {
  it('a platform missing from the index is an error listing what the base offers', async () => {
    const ctx = await context('no-match', 'FROM busybox-multi\nLABEL a=b\n');
    const r = env.tsb(['build', '--platform', 'linux/ppc64le', ctx]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no manifest for platform linux/ppc64le');
    expect(r.stderr).toContain('it offers linux/amd64, linux/arm64/v8, linux/arm/v7');
  });

  it('a single-platform base of another architecture warns as BuildKit does (InvalidBaseImagePlatform)', async () => {
    const ctx = await context('single', `FROM ${seed.single.amd64}\nRUN uname -m > /arch\n`);
    const ref = `${env.registry.host}/emu/mislabelled:1`;
    const r = env.tsb(['build', '--progress=plain', '--platform', 'linux/arm64', '-t', ref, '--push', ctx]);
    ok(r, 'build on an amd64-only base');
    expect(r.stderr).toContain('InvalidBaseImagePlatform');
    expect(r.stderr).toContain(
      `Base image ${seed.single.amd64} was pulled with platform "linux/amd64", expected "linux/arm64" for current build`,
    );
    // BuildKit labels the result with the target platform all the same; the warning is what tells the user
    expect(registryConfig(ref).architecture).toBe('arm64');
  });
});

describe('no --platform: the stage is what its base is (BuildKit autodetects)', () => {
  let empty: string;
  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), 'tsbuild-no-binfmt-'));
  });
  afterAll(async () => rm(empty, { recursive: true, force: true }));

  function arch(name: string): string {
    const r = env.tsb(['inspect', name]);
    ok(r, `inspect ${name}`);
    const c = (JSON.parse(r.stdout) as { config: Config }).config;
    return [c.os, c.architecture, ...(c.variant ? [c.variant] : [])].join('/');
  }

  it('a single-platform arm64 base makes an arm64 image, its RUN emulated, and no warning', async () => {
    const ctx = await context('auto', `FROM ${seed.single.arm64}\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n`);
    const r = env.tsb(['build', '--progress=plain', '-t', 'emu/auto:1', ctx]);
    ok(r, 'build on an arm64-only base');
    expect(r.stderr).not.toContain('InvalidBaseImagePlatform');
    expect(arch('emu/auto:1')).toBe('linux/arm64/v8');
    expect(env.tsb(['run', 'emu/auto:1']).stdout.trim()).toBe('aarch64');
  });

  it('without the emulator its RUN fails before the step, naming the base; without RUN it warns', async () => {
    const ctx = await context('auto-none', `FROM ${seed.single.arm64}\nRUN uname -m > /arch\n`);
    const r = env.tsb(['build', '--progress=json', '--no-cache', ctx], { env: { TSBUILD_BINFMT_DIR: empty } });
    expect(r.code).toBe(1);
    const evs = events(r.stderr);
    const end = evs.find((e) => e.type === 'build-end');
    expect(end && 'error' in end ? end.error : '').toContain(
      `RUN in stage stage-0 (its base ${seed.single.arm64} is linux/arm64) needs platform linux/arm64`,
    );
    expect(evs.filter((e) => e.type === 'step-start' && e.step.instruction.startsWith('RUN'))).toEqual([]);
    const copy = await context('auto-copy', `FROM ${seed.single.arm64}\nCOPY Dockerfile /Dockerfile\n`);
    const c = env.tsb(['build', '--progress=plain', '-t', 'emu/auto-copy:1', copy], {
      env: { TSBUILD_BINFMT_DIR: empty },
    });
    ok(c, 'COPY onto an arm64-only base');
    expect(c.stderr).toContain(
      `InvalidBaseImagePlatform: Base image ${seed.single.arm64} was pulled with platform "linux/arm64", expected "linux/amd64"`,
    );
    // labelled with what its binaries are, as BuildKit leaves the base's platform without --platform
    expect(arch('emu/auto-copy:1')).toBe('linux/arm64/v8');
  });

  it('a stage on a FROM --platform stage is of that platform', async () => {
    const ctx = await context(
      'inherit',
      'FROM --platform=linux/arm64 busybox-multi AS base\nFROM base\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n',
    );
    const none = env.tsb(['build', '-q', ctx], { env: { TSBUILD_BINFMT_DIR: empty } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('RUN in stage stage-1 needs platform linux/arm64');
    ok(env.tsb(['build', '-q', '-t', 'emu/inherit:1', ctx]), 'with the emulators');
    expect(arch('emu/inherit:1')).toBe('linux/arm64');
    expect(env.tsb(['run', 'emu/inherit:1']).stdout.trim()).toBe('aarch64');
  });
});

describe('malformed platforms', () => {
  it.each(['linx', 'linux/amd64,windows/amd64', 'linux/amd64,', 'windows/amd64', 'linux/arm/v7/x', 'linux//'])(
    '--platform %j is refused at once (exit 2)',
    async (p) => {
      const ctx = await context('malformed', 'FROM busybox-multi\nRUN true\n');
      const r = env.tsb(['build', '--platform', p, ctx]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/platform/);
      expect(r.stderr).not.toContain('pulling');
    },
  );

  it('one word is read as containerd reads it: `linux` is the host platform, `arm64` is linux/arm64', async () => {
    const ctx = await context('one-word', 'FROM busybox-multi\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n');
    ok(env.tsb(['build', '-q', '--platform', 'linux', '-t', 'emu/word:linux', ctx]), 'linux');
    ok(env.tsb(['build', '-q', '--platform', 'arm64', '-t', 'emu/word:arm64', ctx]), 'arm64');
    expect(env.tsb(['run', 'emu/word:linux']).stdout.trim()).toBe('x86_64');
    expect(env.tsb(['run', 'emu/word:arm64']).stdout.trim()).toBe('aarch64');
  });
});
