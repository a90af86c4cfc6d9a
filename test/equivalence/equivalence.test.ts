// Equivalence with BuildKit: each case in cases.ts is built by `docker build` (BuildKit inside a dockerd this test
// starts, with its own state) and by `tsbuild --output type=local`; the final rootfs trees must agree in paths,
// types, modes, owners, link targets and contents (mtimes aside; docker's own container files aside), the configs
// in the fields of CONFIG_FIELDS, the history (created_by and empty_layer of each entry) and the layers (their
// count, and the diff_ids both sides share: the base's and the empty layer's). Both builders start from the same
// busybox image, served by a real registry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startRegistry } from '../fixtures/registry.js';
import { seedBusyboxBase } from '../builder/helpers/base.js';
import { ok, tsbFor, type Tsb } from '../builder/helpers/tsb.js';
import { CASES, type Case } from './cases.js';
import { EMPTY_LAYER_DIFF_ID, EMPTY_LAYER_GZIP_DIGEST, isGzipLayer } from '../../oci/index.js';

const DOCKERD = '/usr/sbin/dockerd';
const DOCKER = '/usr/bin/docker';

let registry: { host: string; stop(): Promise<void> };
let work: string;
let tsb: Tsb;
let dockerd: ChildProcess | undefined;
let dockerEnv: NodeJS.ProcessEnv;

function docker(args: string[], input?: string): string {
  const r = spawnSync(DOCKER, args, { env: dockerEnv, encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  if (!existsSync(DOCKERD) || !existsSync(DOCKER)) {
    throw new Error(
      "the equivalence tests need BuildKit: install Debian's docker.io (`apt-get install -y docker.io`, listed in .ci/install-deps)",
    );
  }
  registry = await startRegistry();
  const base = await seedBusyboxBase(registry.host);
  work = await mkdtemp(join(tmpdir(), 'tsbuild-equiv-'));
  tsb = tsbFor(join(work, 'tsbuild-root'), registry.host);
  const sock = join(work, 'docker.sock');
  dockerEnv = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_BUILDKIT: '1' };
  dockerd = spawn(
    DOCKERD,
    [
      '--iptables=false',
      '--bridge=none',
      '--storage-driver=overlay2',
      `--insecure-registry=${registry.host}`,
      '--data-root',
      join(work, 'docker-data'),
      '--exec-root',
      join(work, 'docker-exec'),
      '-H',
      `unix://${sock}`,
      '--pidfile',
      join(work, 'docker.pid'),
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 150; i++) {
    if (spawnSync(DOCKER, ['info'], { env: dockerEnv, stdio: 'ignore' }).status === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  docker(['pull', '-q', base]);
  docker(['tag', base, 'busybox:latest']);
  legacy = await probeFrontend();
});

afterAll(async () => {
  if (dockerd?.pid) {
    dockerd.kill('SIGTERM');
    await new Promise((r) => dockerd!.once('exit', r));
  }
  await registry?.stop();
  if (work) {
    spawnSync('umount', ['-R', join(work, 'docker-data')], { stdio: 'ignore' });
    await rm(work, { recursive: true, force: true });
  }
});

async function makeContext(c: Case): Promise<string> {
  const dir = join(work, 'ctx', c.name);
  await mkdir(dir, { recursive: true });
  const later: [string, string][] = [];
  for (const [p, spec] of Object.entries(c.files)) {
    const abs = join(dir, p);
    await mkdir(dirname(abs), { recursive: true });
    if (typeof spec === 'string') await writeFile(abs, spec);
    else if ('content' in spec) {
      await writeFile(abs, spec.content);
      if (spec.mode !== undefined) await chmod(abs, spec.mode);
    } else if ('symlink' in spec) await symlink(spec.symlink, abs);
    else if ('hardlink' in spec) later.push([join(dir, spec.hardlink), abs]);
    else {
      await mkdir(abs, { recursive: true });
      if (spec.mode !== undefined) await chmod(abs, spec.mode);
    }
  }
  for (const [from, to] of later) await link(from, to);
  await writeFile(join(dir, 'Buildfile'), c.buildfile + '\n');
  if (c.prepare) execFileSync('sh', ['-c', c.prepare], { cwd: dir });
  return dir;
}

/** Docker's own container files and the kernel filesystems' mount points. */
const IGNORED = /^(\.dockerenv|dev|proc|sys|etc\/hosts|etc\/hostname|etc\/resolv\.conf|etc\/mtab)(\/|$)/;

async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const n of (await readdir(join(root, rel))).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (IGNORED.test(r)) continue;
      const st = await lstat(join(root, r));
      const mode = (st.mode & 0o7777).toString(8);
      const own = `${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) out.push(`${r} l ${own} -> ${await readlink(join(root, r))}`);
      else if (st.isDirectory()) {
        out.push(`${r} d ${mode} ${own}`);
        await walk(r);
      } else if (st.isFile()) {
        const h =
          r === 'bin/busybox' || r.startsWith('made-hardlink')
            ? 'busybox'
            : createHash('sha256')
                .update(await readFile(join(root, r)))
                .digest('hex')
                .slice(0, 16);
        out.push(`${r} f ${mode} ${own} ${h}`);
      } else out.push(`${r} ? ${mode} ${own}`);
    }
  };
  await walk('');
  return out;
}

const CONFIG_FIELDS = [
  'Env',
  'Cmd',
  'Entrypoint',
  'WorkingDir',
  'User',
  'ExposedPorts',
  'Volumes',
  'Labels',
  'ArgsEscaped',
  'Shell',
  'Healthcheck',
  'StopSignal',
] as const;

interface RawConfig {
  config: Record<string, unknown>;
  history?: { created_by?: string; empty_layer?: boolean }[];
  rootfs: { diff_ids: string[] };
}

/** The image config as docker stores it (not `docker inspect`'s rendering, which drops fields). */
async function dockerRawConfig(tag: string, dir: string): Promise<RawConfig> {
  await mkdir(dir, { recursive: true });
  docker(['save', '-o', `${dir}.tar`, tag]);
  execFileSync('tar', ['-x', '-f', `${dir}.tar`, '-C', dir]);
  const [m] = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { Config: string }[];
  return JSON.parse(await readFile(join(dir, m!.Config), 'utf8')) as RawConfig;
}

interface OciManifest {
  layers: { mediaType: string; digest: string }[];
}

/** The image config in an OCI archive, byte for byte as written (skopeo's rendering drops Docker's fields). */
async function ociRawConfig(archive: string, dir: string): Promise<{ config: RawConfig; manifest: OciManifest }> {
  await mkdir(dir, { recursive: true });
  execFileSync('tar', ['-x', '-f', archive, '-C', dir]);
  const blob = async (
    d: string,
  ): Promise<{ manifests?: { digest: string }[]; config?: { digest: string }; layers?: OciManifest['layers'] }> =>
    JSON.parse(await readFile(join(dir, 'blobs', ...d.split(':')), 'utf8')) as never;
  let m = (JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] })
    .manifests[0]!;
  let doc = await blob(m.digest);
  while (doc.manifests) {
    m = doc.manifests[0]!;
    doc = await blob(m.digest);
  }
  const config = JSON.parse(await readFile(join(dir, 'blobs', ...doc.config!.digest.split(':')), 'utf8')) as RawConfig;
  return { config, manifest: { layers: doc.layers ?? [] } };
}

/**
 * What this dockerd's Dockerfile frontend leaves out of created_by that the current BuildKit writes (and tsbuild,
 * pinned by builder/image-config.test.ts and test/builder/empty-layers.test.ts): Debian's docker.io 20.10 has
 * BuildKit 0.8, whose COPY/ADD history names no --parents/--chown/--chmod, whose HEALTHCHECK has no start interval,
 * and whose ARG shows the default as written instead of the value in effect (which tsbuild's text cannot be turned
 * back into: ARG entries are then compared by their names only). Learnt from a probe build, so a newer dockerd is
 * compared with no allowance.
 */
let legacy = { copyFlags: false, startInterval: false, argDefaults: false };

async function probeFrontend(): Promise<typeof legacy> {
  const dir = join(work, 'probe');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'Buildfile'),
    'FROM busybox:latest\nARG PROBE=default\nCOPY --chown=1:2 Buildfile /probe\nHEALTHCHECK CMD true\n',
  );
  docker(['build', '-q', '--build-arg', 'PROBE=cli', '-f', join(dir, 'Buildfile'), '-t', 'equiv-probe:latest', dir]);
  const made = (await dockerRawConfig('equiv-probe:latest', join(work, 'probe-save'))).history ?? [];
  const by = made.map((h) => h.created_by ?? '');
  return {
    copyFlags: by.includes('COPY Buildfile /probe # buildkit'),
    startInterval: by.some((b) => /^HEALTHCHECK &\{\[.*\] "[^"]*" "[^"]*" "[^"]*" '/.test(b)),
    argDefaults: by.includes('ARG PROBE=default'),
  };
}

/** tsbuild's created_by as the probed frontend would have written it. */
function asLegacy(createdBy: string): string {
  let b = createdBy;
  if (legacy.copyFlags) b = b.replace(/^(COPY|ADD)((?: --(?:parents|chown=\S+|chmod=\S+))+) /, '$1 ');
  if (legacy.startInterval) b = b.replace(/^(HEALTHCHECK &\{.* "[^"]*" "[^"]*" "[^"]*") "[^"]*"( '[^']*'\})$/, '$1$2');
  return b;
}

/** ARG's names only (`ARG A=1 B` → `ARG A B`), for a frontend that shows other values than tsbuild. */
function argNames(createdBy: string): string {
  if (!legacy.argDefaults || !createdBy.startsWith('ARG ')) return createdBy;
  const names = createdBy.slice(4).match(/(?:^| )[A-Za-z_][A-Za-z0-9_]*(?==|$| )/g) ?? [];
  return `ARG${names.map((n) => ` ${n.trim()}`).join('')}`;
}

/** History as the two builders must agree on it: each entry's created_by and whether it has a layer. */
function pickHistory(c: RawConfig, rewrite: (createdBy: string) => string = (b) => b): string[] {
  return (c.history ?? []).map((h) => `${h.empty_layer ? 'empty ' : 'layer '}${argNames(rewrite(h.created_by ?? ''))}`);
}

/**
 * The layer lists with each diff_id the other side does not have replaced by `*`: layers made by a step differ
 * in mtimes, but the base's layer and the empty layer are the same bytes on both sides.
 */
function pickLayers(a: RawConfig, b: RawConfig): [string[], string[]] {
  const as = new Set(a.rootfs.diff_ids);
  const bs = new Set(b.rootfs.diff_ids);
  return [a.rootfs.diff_ids.map((d) => (bs.has(d) ? d : '*')), b.rootfs.diff_ids.map((d) => (as.has(d) ? d : '*'))];
}

function pickConfig(c: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of CONFIG_FIELDS) {
    const v = c[f];
    out[f] =
      v === undefined || v === null || v === '' || (typeof v === 'object' && Object.keys(v as object).length === 0)
        ? null
        : v;
  }
  return out;
}

describe('equivalence with BuildKit', () => {
  for (const c of CASES) {
    // soft: every difference of a case is reported at once
    it(`${c.name}: same rootfs, config, history and layers as docker build`, async () => {
      const ctx = await makeContext(c);
      const args = Object.entries(c.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);

      const tag = `equiv-${c.name}:latest`;
      docker(['build', '-q', '--network', 'host', '-f', join(ctx, 'Buildfile'), ...args, '-t', tag, ctx]);
      const id = docker(['create', tag]).trim();
      const dockerRoot = join(work, 'docker-out', c.name);
      await mkdir(dockerRoot, { recursive: true });
      // through a file: in a pipe, a failed export would leave an empty tree and only tar's status
      const exported = join(work, `${c.name}.export.tar`);
      docker(['export', '-o', exported, id]);
      execFileSync('tar', ['-x', '-p', '--same-owner', '--numeric-owner', '-f', exported, '-C', dockerRoot]);
      docker(['rm', id]);
      const dockerRaw = await dockerRawConfig(tag, join(work, 'docker-save', c.name));

      const tsRoot = join(work, 'tsbuild-out', c.name);
      const oci = join(work, `${c.name}.oci.tar`);
      ok(
        tsb(['build', '-q', ...args, '--output', `type=local,dest=${tsRoot}`, '--output', `type=oci,dest=${oci}`, ctx]),
        `tsbuild ${c.name}`,
      );
      const { config: tsRaw, manifest } = await ociRawConfig(oci, join(work, 'tsbuild-oci', c.name));

      expect.soft(await listTree(tsRoot)).toEqual(await listTree(dockerRoot));
      expect.soft(pickConfig(tsRaw.config)).toEqual(pickConfig(dockerRaw.config));
      expect.soft(pickHistory(tsRaw, asLegacy)).toEqual(pickHistory(dockerRaw));
      const [tsLayers, dockerLayers] = pickLayers(tsRaw, dockerRaw);
      expect.soft(tsLayers).toEqual(dockerLayers);
      // docker keeps no compressed blob to compare with: the empty layer's must be the one BuildKit pushes
      for (const [i, d] of tsRaw.rootfs.diff_ids.entries()) {
        const l = manifest.layers[i]!;
        if (d === EMPTY_LAYER_DIFF_ID)
          expect.soft(l.digest).toBe(isGzipLayer(l.mediaType) ? EMPTY_LAYER_GZIP_DIGEST : EMPTY_LAYER_DIFF_ID);
      }
    });
  }
});
