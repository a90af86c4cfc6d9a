// `prune` beside pulls and builds on one store (issue #21, items 1 and 2): a prune loop of real `tsbuild prune`
// processes runs while real `tsbuild pull` / `tsbuild build` processes write the store, and after each round the
// image must run and `tsbuild store verify` must pass. Prunes start at the same moment as the writers, so they
// meet the pull's temp files, diffID records, short links and half-installed layers.
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPlatform } from '../../oci/index.js';
import {
  busyboxLayout,
  initLayout,
  skopeoCopy,
  writeImage,
  writeIndex,
  writeLayer,
  DEFAULT_PATH,
} from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { tempDirs } from '../registry/helpers.js';

const TSBUILD = new URL('../../bin/tsbuild', import.meta.url).pathname;
const ROUNDS = 30;
/** Layers of the test image besides busybox's: each a separate download, diffID record, short link and install. */
const EXTRA_LAYERS = 7;
const BUILD_ROUNDS = 25;
/** Builds at once in each round of the build test. */
const BUILDS = 3;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tsbuild(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(TSBUILD, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** `tsbuild prune` again and again until `stop` is called; resolves to every prune's result. */
function pruneLoop(env: NodeJS.ProcessEnv): { stop: () => Promise<Result[]> } {
  let running = true;
  const results: Result[] = [];
  const loop = (async () => {
    while (running) results.push(await tsbuild(['prune'], env));
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return results;
    },
  };
}

function describeFailure(what: string, r: Result): string {
  return `${what} exited ${r.code}: ${r.stderr.slice(-2000)}`;
}

describe('prune beside pulls and builds', () => {
  let reg: RegistryFixture;
  const tmp = tempDirs();
  let ref: string;
  let busybox: string;
  let base: { DOCKER_CONFIG: string; XDG_CONFIG_HOME: string; TSBUILD_INSECURE_REGISTRY: string };

  beforeAll(async () => {
    reg = await startRegistry();
    // busybox plus small layers, so that one pull installs several layers while the prunes run
    const layout = await tmp.make();
    await initLayout(layout);
    const bb = await busyboxLayout();
    const index = JSON.parse(await readFile(join(bb, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const bbManifest = JSON.parse(
      await readFile(join(bb, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
    ) as { layers: { digest: string }[]; config: { digest: string } };
    const bbConfig = JSON.parse(
      await readFile(join(bb, 'blobs/sha256', bbManifest.config.digest.slice(7)), 'utf8'),
    ) as { rootfs: { diff_ids: string[] } };
    const bbLayer = bbManifest.layers[0]!;
    await writeFile(
      join(layout, 'blobs/sha256', bbLayer.digest.slice(7)),
      await readFile(join(bb, 'blobs/sha256', bbLayer.digest.slice(7))),
    );
    const layers: Awaited<ReturnType<typeof writeLayer>>[] = [
      { descriptor: bbLayer as never, diffID: bbConfig.rootfs.diff_ids[0] as never },
    ];
    for (let i = 0; i < EXTRA_LAYERS; i++) {
      const dir = await tmp.make();
      await mkdir(join(dir, `layer${i}`));
      for (let f = 0; f < 20; f++)
        await writeFile(join(dir, `layer${i}`, `f${f}`), `layer ${i} file ${f}\n`.repeat(50 + i));
      layers.push(await writeLayer(layout, dir));
    }
    const m = await writeImage(layout, layers, { Env: [DEFAULT_PATH], Cmd: ['/bin/sh'] }, hostPlatform());
    await writeIndex(layout, [
      {
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      },
    ]);
    busybox = `${reg.host}/test/busybox:latest`;
    await skopeoCopy(`oci:${bb}:latest`, `docker://${busybox}`, ['--dest-tls-verify=false']);
    ref = `${reg.host}/test/layers:latest`;
    await skopeoCopy(`oci:${layout}:latest`, `docker://${ref}`, ['--dest-tls-verify=false']);
    base = { DOCKER_CONFIG: await tmp.make(), XDG_CONFIG_HOME: await tmp.make(), TSBUILD_INSECURE_REGISTRY: reg.host };
  }, 120_000);
  afterAll(async () => {
    await reg?.stop();
    await tmp.cleanup();
  });

  /** After a round: the image runs, and the store verifies. */
  async function check(env: NodeJS.ProcessEnv, image: string, round: number): Promise<void> {
    const run = await tsbuild(['run', '--network', 'none', image, 'cat', `/layer${EXTRA_LAYERS - 1}/f0`], env);
    expect(run.code, `round ${round}: ${describeFailure('run', run)}`).toBe(0);
    const verify = await tsbuild(['store', 'verify'], env);
    expect(verify.code, `round ${round}: ${describeFailure('store verify', verify)}\n${verify.stdout}`).toBe(0);
  }

  it(`a prune loop beside a pull: ${ROUNDS} rounds, each pull's image runs and the store verifies`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const root = await tmp.make();
      const env = { ...base, TSBUILD_ROOT: root };
      const prunes = pruneLoop(env);
      const pull = await tsbuild(['pull', '--progress=quiet', ref], env);
      const pruned = await prunes.stop();
      expect(pull.code, `round ${round}: ${describeFailure('pull', pull)}`).toBe(0);
      for (const p of pruned) expect(p.code, `round ${round}: ${describeFailure('prune', p)}`).toBe(0);
      await check(env, ref, round);
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);

  it('a missing short link (left by an older prune) is made again by the next run, and by prune', async () => {
    const root = await tmp.make();
    const env = { ...base, TSBUILD_ROOT: root };
    const pull = await tsbuild(['pull', '--progress=quiet', ref], env);
    expect(pull.code, describeFailure('pull', pull)).toBe(0);
    const links = readdirSync(join(root, 'l'));
    expect(links).toHaveLength(EXTRA_LAYERS + 1);
    rmSync(join(root, 'l', links[0]!));
    expect((await tsbuild(['store', 'verify'], env)).code).toBe(1);
    await check(env, ref, 0);
    rmSync(join(root, 'l', links[1]!));
    const prune = await tsbuild(['prune'], env);
    expect(prune.code, describeFailure('prune', prune)).toBe(0);
    expect(readdirSync(join(root, 'l')).sort()).toEqual([...links].sort());
    await check(env, ref, 0);
  });

  it(`a prune loop beside a pull and a lazy-base build: ${ROUNDS} rounds`, async () => {
    const ctx = await tmp.make();
    await writeFile(join(ctx, 'Buildfile'), `FROM ${ref}\nRUN cat /layer0/f1 > /copied\n`);
    for (let round = 0; round < ROUNDS; round++) {
      const root = await tmp.make();
      const env = { ...base, TSBUILD_ROOT: root };
      const prunes = pruneLoop(env);
      // the build pulls its base lazily (manifest and config only) and downloads the layers when RUN needs them
      const [b, p1] = await Promise.all([
        tsbuild(['build', '--progress=quiet', '-t', 'localhost/lazy:latest', ctx], env),
        tsbuild(['pull', '--progress=quiet', ref], env),
      ]);
      const pruned = await prunes.stop();
      expect(b.code, `round ${round}: ${describeFailure('build', b)}`).toBe(0);
      expect(p1.code, `round ${round}: ${describeFailure('pull', p1)}`).toBe(0);
      for (const p of pruned) expect(p.code, `round ${round}: ${describeFailure('prune', p)}`).toBe(0);
      const run = await tsbuild(['run', '--network', 'none', 'localhost/lazy:latest', 'cat', '/copied'], env);
      expect(run.code, `round ${round}: ${describeFailure('run', run)}`).toBe(0);
      expect(run.stdout).toContain('layer 0 file 1');
      await check(env, ref, round);
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);

  it(`a prune loop beside concurrent --no-cache builds that retag their own base: ${BUILD_ROUNDS} rounds`, async () => {
    const root = await tmp.make();
    const env = { ...base, TSBUILD_ROOT: root };
    // the chain starts from busybox alone, so the registry image's own layers are free to go between rounds
    const first = await tsbuild(
      ['build', '--progress=quiet', '--network', 'none', '-t', 'localhost/chain:latest', '-'],
      env,
      `FROM ${busybox}\nRUN echo 0 > /round\n`,
    );
    expect(first.code, describeFailure('first build', first)).toBe(0);
    await rounds(env);
  }, 120_000);

  async function rounds(env: NodeJS.ProcessEnv): Promise<void> {
    // Each build pulls the registry image (untagged before each round, so the prunes take its layers), resolves
    // the chain's last image, which the other builds replace as they finish (so a prune may take it too), copies
    // from the first stage, runs a step on that new layer, and tags the chain with its result.
    const buildfile = (i: number): string => `FROM ${ref} AS base
RUN cat /layer0/f1 /layer${EXTRA_LAYERS - 1}/f1 > /from-base-${i}
FROM localhost/chain:latest
COPY --from=base /from-base-${i} /
RUN head -c 8 /dev/urandom > /id-${i}
`;
    for (let round = 0; round < BUILD_ROUNDS; round++) {
      const untag = await tsbuild(['rmi', ref], env);
      expect(untag.code === 0 || round === 0, describeFailure('rmi', untag)).toBe(true);
      const prunes = pruneLoop(env);
      const builds = await Promise.all(
        Array.from({ length: BUILDS }, (_, i) =>
          tsbuild(
            ['build', '--progress=quiet', '--no-cache', '--network', 'none', '-t', 'localhost/chain:latest', '-'],
            env,
            buildfile(i),
          ),
        ),
      );
      const pruned = await prunes.stop();
      builds.forEach((b, i) => expect(b.code, `round ${round}: ${describeFailure(`build ${i}`, b)}`).toBe(0));
      for (const p of pruned) expect(p.code, `round ${round}: ${describeFailure('prune', p)}`).toBe(0);
      const run = await tsbuild(['run', '--network', 'none', 'localhost/chain:latest', 'ls', '/'], env);
      expect(run.code, `round ${round}: ${describeFailure('run', run)}`).toBe(0);
      expect(run.stdout).toMatch(/from-base-\d/);
      const verify = await tsbuild(['store', 'verify'], env);
      expect(verify.code, `round ${round}: ${describeFailure('store verify', verify)}\n${verify.stdout}`).toBe(0);
    }
  }
});
