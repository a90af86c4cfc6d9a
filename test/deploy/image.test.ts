// tsbuild's own image, built by tsbuild from deploy/Buildfile (scripts/image.sh), and the Pod manifest that runs it
// (deploy/pod.yaml) under `podman kube play`. One image build serves every test here. Docker Hub is out of reach,
// so the base is a node:20-bookworm-slim stand-in made here (helpers/node-base.ts), passed as --build-arg BASE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type SpawnSyncReturns } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { seedBusyboxBase } from '../builder/helpers/base.js';
import { BIN, REPO } from '../builder/helpers/tsb.js';
import { seedNodeBase } from './helpers/node-base.js';
import { podmanStorage } from '../fixtures/podman.js';

let registry: RegistryFixture;
let work: string;
let image: string;
const OVERLAYFS_MAGIC = 0x794c7630;
const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/** overlay, unless the work dir is itself on overlayfs (which overlay cannot stack on): then vfs, which copies. */
let storageDriver = 'vfs';

function podmanStore(): string[] {
  return podmanStorage(work, storageDriver);
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/**
 * Runs a command without blocking the event loop (a blocked loop for minutes makes vitest's worker miss its own RPC
 * deadlines); the result as spawnSync gives it, output cut to its last 16 KB.
 */
function run(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<SpawnSyncReturns<string>> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-16000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16000)));
    child.stdin.end(opts.input ?? '');
    child.on('close', (status, signal) => resolve({ pid: child.pid ?? 0, output: [], stdout, stderr, status, signal }));
  });
}

/** podman with a store of its own, runc, and the limits of containers.conf (written in beforeAll). */
function podman(args: string[], input?: string): Promise<SpawnSyncReturns<string>> {
  return run('podman', [...podmanStore(), ...args], {
    env: { ...process.env, CONTAINERS_CONF: join(work, 'containers.conf') },
    input,
  });
}

/** `podman run` of the image on the host's network (the test registry listens on loopback). */
function runImage(args: string[], opts: string[] = []): Promise<SpawnSyncReturns<string>> {
  return podman(['run', '--rm', '--network', 'host', ...opts, image, ...args]);
}

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'tsbuild-deploy-'));
  if ((await statfs(work)).type !== OVERLAYFS_MAGIC) storageDriver = 'overlay';
  // podman here: runc, and limits root may set (it lacks CAP_SYS_RESOURCE); `kube play` takes them only from here
  await writeFile(
    join(work, 'containers.conf'),
    '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]\n[engine]\nruntime = "runc"\n',
  );
  const base = await seedNodeBase(registry.host);
  await seedBusyboxBase(registry.host);
  image = `${registry.host}/tools/tsbuild:${version}`;
  const root = join(work, 'store');
  const b = await run(
    'bash',
    [join(REPO, 'scripts/image.sh'), '--progress=plain', '--build-arg', `BASE=${base}`, '-t', image, '--push'],
    {
      env: {
        ...process.env,
        TSBUILD: BIN,
        TSBUILD_ROOT: root,
        TSBUILD_INSECURE_REGISTRY: registry.host,
        TSBUILD_REGISTRY_MIRROR: `http://${registry.host}`,
      },
    },
  );
  ok(b, 'scripts/image.sh');
  ok(await podman(['pull', '-q', '--tls-verify=false', image]), 'podman pull');
  // podman 4.3 refuses a missing secret even when `optional: true`: an empty docker config stands for it
  const secret = join(work, 'registry-auth.json');
  await writeFile(
    secret,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'registry-auth' },
      data: { 'config.json': Buffer.from('{"auths":{}}').toString('base64') },
    }),
  );
  ok(await podman(['secret', 'create', 'registry-auth', secret]), 'podman secret create');
}, 1_200_000);

afterAll(async () => {
  if (work) {
    await podman(['rm', '-af']);
    await podman(['rmi', '-af']);
    await rm(work, { recursive: true, force: true });
  }
  await registry?.stop();
});

describe('tsbuild image (deploy/Buildfile, built by tsbuild)', () => {
  it('runs tsbuild --version as its non-root user', async () => {
    expect(ok(await runImage(['--version']), 'tsbuild --version')).toMatch(
      new RegExp(`^${version.replace(/\./g, '\\.')} `),
    );
    expect(ok(await runImage(['-u'], ['--entrypoint', 'id']), 'id -u').trim()).toBe('1001');
  });

  it('runs tsbuild info as its non-root user', async () => {
    expect(ok(await runImage(['info']), 'tsbuild info')).toMatch(/mode/);
  });

  it('holds exactly this project, installed from its packed tarball, and no compiler', async () => {
    const pkg = ok(
      await runImage(
        ['-p', "require('/usr/local/lib/node_modules/tsbuild-oci/package.json').name"],
        ['--entrypoint', 'node'],
      ),
      'node -p',
    );
    expect(pkg.trim()).toBe('tsbuild-oci');
    const which = await runImage(
      ['-c', 'command -v tsbuild; command -v cc gcc || echo no-compiler'],
      ['--entrypoint', 'sh'],
    );
    expect(ok(which, 'command -v').trim().split('\n')).toEqual(['/usr/local/bin/tsbuild', 'no-compiler']);
  });

  it('gives newuidmap and newgidmap file capabilities, not setuid (a container has no CAP_SYS_ADMIN for them)', async () => {
    const caps = await runImage(
      ['-c', 'getcap /usr/bin/newuidmap /usr/bin/newgidmap; stat -c %A /usr/bin/newuidmap'],
      ['--entrypoint', 'sh'],
    );
    expect(ok(caps, 'getcap').trim().split('\n')).toEqual([
      '/usr/bin/newuidmap cap_setuid=ep',
      '/usr/bin/newgidmap cap_setgid=ep',
      '-rwxr-xr-x',
    ]);
  });

  it('runs a RUN step with its precompiled helper (no compiler in the image)', async () => {
    const store = join(work, 'run-store');
    await mkdir(store);
    const r = await podman(
      [
        'run',
        '--rm',
        '--network',
        'host',
        '--privileged',
        '--user',
        '0',
        '-i',
        '-v',
        `${store}:/var/lib/tsbuild`,
        '-e',
        `TSBUILD_REGISTRY_MIRROR=http://${registry.host}`,
        '-e',
        `TSBUILD_INSECURE_REGISTRY=${registry.host}`,
        image,
        'build',
        '--progress=plain',
        '--network',
        'none',
        '-t',
        'helper-check',
        '-',
      ],
      'FROM busybox\nRUN echo built-in-the-image > /proof\n',
    );
    ok(r, 'build in the image');
    expect(r.stderr).toMatch(/RUN echo built-in-the-image/);
  });
});

/**
 * deploy/pod.yaml pointed at this test's registry and image: the example registry host replaced, and what a pod
 * needs here to reach a registry on loopback (the host's network; plain HTTP; the registry as docker.io's mirror,
 * for the sample's busybox).
 */
function renderPod(text: string): string {
  const host = registry.host;
  const out = text
    .replaceAll('registry.example.com/tools/tsbuild:0.1.0', image)
    .replaceAll('registry.example.com', host)
    .replace(/^( {2}restartPolicy: Never\n)/m, '$1  hostNetwork: true\n')
    .replace(
      /^( {6}env:\n)/m,
      `$1        - { name: TSBUILD_INSECURE_REGISTRY, value: "${host}" }\n` +
        `        - { name: TSBUILD_REGISTRY_MIRROR, value: "http://${host}" }\n`,
    );
  expect(out).not.toContain('example.com');
  expect(out).toContain('hostNetwork: true');
  expect(out).toContain('TSBUILD_REGISTRY_MIRROR');
  return out;
}

/** Waits for the pod's build container to exit; its exit code and log. */
async function waitPod(container: string): Promise<{ code: number; log: string }> {
  for (let i = 0; i < 300; i++) {
    const st = await podman(['inspect', container, '--format', '{{.State.Status}} {{.State.ExitCode}}']);
    const [status, code] = st.stdout.trim().split(' ');
    if (st.status === 0 && status === 'exited') {
      const logs = await podman(['logs', container]);
      return { code: Number(code), log: logs.stdout + logs.stderr };
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${container} did not exit in 300 s`);
}

async function manifestStatus(repo: string, tag: string): Promise<number> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  return res.status;
}

const withoutComments = (yaml: string): string => yaml.replace(/^\s*#.*$/gm, '');

/**
 * deploy/job.yaml's pod template as a Pod (podman 4.3 plays no Job), after the ConfigMap of deploy/pod.yaml it
 * reads; pushing to team/sample-job, so that nothing comes from the Pod test's cache.
 */
function jobAsPod(job: string, pod: string): string {
  const lines = job.split('\n');
  const at = lines.findIndex((l) => l === '  template:');
  expect(at).toBeGreaterThan(0);
  const template = lines.slice(at + 1).filter((l) => l.startsWith('    ') || l === '');
  const configMap = pod.split('\n---\n')[0]!;
  const asPod = ['apiVersion: v1', 'kind: Pod', ...template.map((l) => l.slice(4))].join('\n');
  return `${configMap}\n---\n${asPod.replaceAll('team/sample', 'team/sample-job')}`;
}

describe('deploy/pod.yaml under podman kube play', () => {
  it('builds the sample as the non-root user without privileges, pushes it and its cache, then builds from the cache', async () => {
    const pod = await readFile(join(REPO, 'deploy/pod.yaml'), 'utf8');
    // the manifest asks for no privilege; the test keeps it that way
    expect(withoutComments(pod)).not.toMatch(/privileged: true|runAsUser: 0\b|SYS_ADMIN|Unconfined|capabilities/);
    const file = join(work, 'pod.yaml');
    await writeFile(file, renderPod(pod));
    try {
      ok(await podman(['kube', 'play', '--replace', '--tls-verify=false', file]), 'podman kube play');
      const first = await waitPod('tsbuild-sample-tsbuild');
      expect(first.code, first.log).toBe(0);
      // podman's kube play masks the pod's /proc (procMount: Unmasked is not honoured): RUN shares it, said once
      expect(first.log.match(/no process sandbox/g), first.log).toHaveLength(1);
      expect(await manifestStatus('team/sample', 'latest')).toBe(200);
      expect(await manifestStatus('team/sample', 'buildcache')).toBe(200);
      // a new pod, so an empty store: the RUN step comes from the registry cache
      ok(await podman(['kube', 'play', '--replace', '--tls-verify=false', file]), 'podman kube play again');
      const second = await waitPod('tsbuild-sample-tsbuild');
      expect(second.code, second.log).toBe(0);
      expect(second.log).toMatch(/\[stage-0 2\/4\] RUN echo "built by tsbuild in a pod" > \/greeting.*CACHED/);
    } finally {
      ok(await podman(['kube', 'down', file]), 'podman kube down');
    }
  });

  it('deploy/job.yaml builds the sample with --mode unprivileged as the container root, default capabilities', async () => {
    const job = await readFile(join(REPO, 'deploy/job.yaml'), 'utf8');
    expect(withoutComments(job)).not.toMatch(/privileged: true|SYS_ADMIN|Unconfined/);
    expect(job).toContain('--mode=unprivileged');
    const file = join(work, 'job-pod.yaml');
    await writeFile(file, renderPod(jobAsPod(job, await readFile(join(REPO, 'deploy/pod.yaml'), 'utf8'))));
    try {
      ok(await podman(['kube', 'play', '--replace', '--tls-verify=false', file]), 'podman kube play');
      const r = await waitPod('tsbuild-sample-job-tsbuild');
      expect(r.code, r.log).toBe(0);
      expect(r.log).toMatch(/\[stage-0 2\/4\] RUN echo "built by tsbuild in a pod" > \/greeting/);
      expect(r.log).not.toMatch(/RUN echo .*CACHED/);
      expect(await manifestStatus('team/sample-job', 'latest')).toBe(200);
    } finally {
      ok(await podman(['kube', 'down', file]), 'podman kube down');
    }
  });
});
