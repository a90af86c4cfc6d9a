// Rootless on a host (issue 16): ordinary users made here (`useradd -m`, removed afterwards) run bin/tsbuild through
// runuser. One has the subordinate ids useradd gives; one has none. Everything is real: the user namespace (entered
// through newuidmap/newgidmap), overlay in it, the registry, podman.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from '../builder/helpers/env.js';
import { BIN, ok, REPO, type Tsb } from '../builder/helpers/tsb.js';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';
import { DEFAULT_PATH, initLayout, skopeoCopy, writeImage, writeIndex, writeLayer } from '../fixtures/images.js';
import { hostPlatform } from '../../oci/index.js';
import { PODMAN_ULIMITS, podmanStorage } from '../fixtures/podman.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const withIds = `tsbra${tag}`;
const noIds = `tsbrb${tag}`;
let withIdsUid: number;
let ctx: string;
let ctxOpaque: string;

type Result = { code: number; stdout: string; stderr: string };

/** bin/tsbuild as `user`, with a clean environment (HOME, PATH, USER, and `env`), against the test registry. */
function asUser(user: string, args: string[], env: Record<string, string> = {}, input?: string): Result {
  const vars = { HOME: `/home/${user}`, USER: user, PATH: process.env.PATH ?? '/usr/bin:/bin', ...env };
  const r = spawnSync(
    'runuser',
    [
      '-u',
      user,
      '--',
      'env',
      '-i',
      ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
      BIN,
      '--registry-mirror',
      `http://${registry.host}`,
      '--insecure-registry',
      registry.host,
      ...args,
    ],
    { encoding: 'utf8', cwd: REPO, maxBuffer: 64 << 20, timeout: 600_000, ...(input !== undefined ? { input } : {}) },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const sample = (name: string): string => join(REPO, 'samples', name);

function subuidStart(user: string): number {
  const line = readFileSync('/etc/subuid', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`useradd gave ${user} no subordinate uids`);
  return Number(line.split(':')[1]);
}

function podmanRun(image: string): string {
  const storage = podmanStorage(work);
  execFileSync('podman', [...storage, 'pull', '-q', '--tls-verify=false', image], { stdio: 'pipe' });
  try {
    return execFileSync('podman', [...storage, 'run', '--rm', '--network', 'host', ...PODMAN_ULIMITS, image], {
      encoding: 'utf8',
    });
  } finally {
    spawnSync('podman', [...storage, 'rmi', '-af'], { stdio: 'ignore' });
  }
}

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('rootless'));
  execFileSync('useradd', ['-m', withIds]);
  execFileSync('useradd', ['-m', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', noIds]);
  withIdsUid = Number(execFileSync('id', ['-u', withIds], { encoding: 'utf8' }).trim());
  ctx = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-ctx-'));
  chmodSync(ctx, 0o755);
  writeFileSync(join(ctx, 'Buildfile'), 'FROM busybox\nCOPY --chown=5:5 a /a\n');
  writeFileSync(join(ctx, 'a'), 'a\n', { mode: 0o644 });
  ctxOpaque = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-opq-'));
  chmodSync(ctxOpaque, 0o755);
  writeFileSync(
    join(ctxOpaque, 'Buildfile'),
    'FROM busybox\nRUN mkdir -p /d && touch /d/old\nRUN rm -rf /d && mkdir /d && touch /d/new\n',
  );
}, 120_000);

afterAll(async () => {
  for (const u of [withIds, noIds]) {
    const uid = spawnSync('id', ['-u', u], { encoding: 'utf8' }).stdout.trim();
    spawnSync('userdel', ['-r', '-f', u], { stdio: 'ignore' });
    if (uid) rmSync(`/tmp/tsbuild-${uid}`, { recursive: true, force: true });
  }
  for (const d of [ctx, ctxOpaque]) if (d) rmSync(d, { recursive: true, force: true });
  await closeBuildEnv({ registry, root, work });
});

/** busybox with a character device (/dev/null 1:3) in its layer, pushed as library/devbase:latest. */
async function seedDeviceBase(): Promise<void> {
  const rootfs = await makeBusyboxRootfs();
  const layout = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-devbase-'));
  try {
    chmodSync(rootfs, 0o755);
    execFileSync('mkdir', ['-p', join(rootfs, 'dev')]);
    execFileSync('mknod', ['-m', '666', join(rootfs, 'dev', 'null'), 'c', '1', '3']);
    await initLayout(layout);
    const layer = await writeLayer(layout, rootfs);
    const m = await writeImage(layout, [layer], { Env: [DEFAULT_PATH], Cmd: ['/bin/sh'] }, hostPlatform());
    await writeIndex(layout, [{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    await skopeoCopy(`oci:${layout}:latest`, `docker://${registry.host}/library/devbase:latest`, [
      '--dest-tls-verify=false',
    ]);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
    rmSync(layout, { recursive: true, force: true });
  }
}

describe('rootless on a host', () => {
  it('tsbuild info states the mode, mapping, store, run dir and reasons: root as root, rootless as a user', () => {
    const r = tsb(['info']);
    ok(r, 'info as root');
    expect(r.stdout).toMatch(/^mode: +root$/m);
    expect(r.stdout).toMatch(/^reason: +mode root: euid 0 with CAP_SYS_ADMIN in the initial user namespace$/m);
    expect(r.stdout).toMatch(/^id mapping: +none \(host ids\)$/m);

    const u = asUser(withIds, ['info', '--json']);
    ok(u, 'info as a user');
    const info = JSON.parse(u.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({
      mode: 'rootless',
      snapshots: 'overlay',
      isolation: 'chroot',
      idMapping: `0→${withIdsUid}, 1-65535→${subuidStart(withIds)}`,
      storeRoot: `/home/${withIds}/.local/share/tsbuild`,
      runDir: `/tmp/tsbuild-${withIdsUid}`,
    });
    expect(info.reasons).toContain(
      `mode rootless: not root (euid ${withIdsUid}); user namespaces and overlay in them work`,
    );
    // XDG_RUNTIME_DIR, when it is the user's, holds the run dir
    const xdg = asUser(withIds, ['info', '--json'], { XDG_RUNTIME_DIR: `/home/${withIds}` });
    expect((JSON.parse(xdg.stdout) as { runDir: string }).runDir).toBe(`/home/${withIds}/tsbuild`);
  });

  it('hello and multistage build as a user, run, push, pull back into a fresh store, and run under podman', () => {
    const b = asUser(withIds, ['--debug', 'build', '--progress=plain', '-t', 'hello:1', sample('hello')]);
    ok(b, 'build hello rootless');
    // --debug: the first progress line is the mode
    expect(b.stderr.split('\n')[0]).toMatch(
      /^mode rootless \(snapshots overlay, isolation chroot, ids 0→\d+, 1-65535→\d+\): /,
    );
    const r = asUser(withIds, ['run', 'hello:1']);
    ok(r, 'run hello rootless');
    expect(r.stdout).toContain('Hello from tsbuild');
    expect(r.stdout).toMatch(/I run as 65534 in \/app; built on /);
    expect(asUser(withIds, ['run', 'hello:1', 'sh', '-c', 'exit 7']).code).toBe(7);
    // a cgroup limit cannot be had rootless: it fails, and says so
    const limited = asUser(withIds, ['run', '--memory', '100m', 'hello:1']);
    expect(limited.code).toBe(1);
    expect(limited.stderr).toContain(
      'hint: resource limits (--memory, --cpus, --pids-limit) need a writable /sys/fs/cgroup',
    );

    ok(asUser(withIds, ['build', '-q', '-t', 'ms:1', sample('multistage')]), 'build multistage rootless');
    const ms = asUser(withIds, ['run', 'ms:1']);
    ok(ms, 'run multistage rootless');
    expect(ms.stdout).toContain('sum of squares to 5 = 55');

    const dest = `${registry.host}/rootless/hello:1`;
    ok(asUser(withIds, ['push', 'hello:1', dest]), 'push hello rootless');
    const fresh = `/home/${withIds}/store2`;
    ok(asUser(withIds, ['--root', fresh, 'pull', dest]), 'pull into a fresh rootless store');
    const again = asUser(withIds, ['--root', fresh, 'run', dest]);
    ok(again, 'run the pulled image');
    expect(again.stdout).toBe(r.stdout);
    expect(podmanRun(dest)).toBe(r.stdout);

    // an opaque directory (a RUN that removes a directory and makes it again) hides what the layers below had
    const opq = asUser(withIds, ['build', '-q', '-t', 'opq:1', ctxOpaque]);
    ok(opq, 'build an opaque directory rootless');
    const ls = asUser(withIds, ['run', 'opq:1', 'ls', '/d']);
    ok(ls, 'run the opaque directory image');
    expect(ls.stdout).toBe('new\n');

    const msDest = `${registry.host}/rootless/ms:1`;
    ok(asUser(withIds, ['push', 'ms:1', msDest]), 'push multistage rootless');
    expect(podmanRun(msDest)).toBe(ms.stdout);
  });

  it('RUN rootless: --network none has lo up, the default network shows tap0 in /sys, in both isolations', () => {
    const text =
      'FROM busybox\nRUN --network=none ip addr show lo | grep -c LOWER_UP; hostname\nRUN ls /sys/class/net\n';
    for (const isolation of ['chroot', 'pivot']) {
      const b = asUser(
        withIds,
        ['build', '--no-cache', '--progress=plain', '--isolation', isolation, '-f', '-', ctx],
        {},
        text,
      );
      ok(b, `build (${isolation} isolation)`);
      const out = b.stderr
        .split('\n')
        .filter((l) => l.includes('] | '))
        .map((l) => l.split('] | ')[1]);
      expect(out).toEqual(['1', 'buildkitsandbox', 'lo', 'tap0']);
    }
  });

  it('under SOURCE_DATE_EPOCH a rootless build has the image digest of the same build as root', () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    for (const name of ['hello', 'multistage']) {
      const asRoot = tsb(['build', '-q', '--no-cache', sample(name)], { env });
      ok(asRoot, `build ${name} as root`);
      const rootless = asUser(withIds, ['build', '-q', '--no-cache', sample(name)], env);
      ok(rootless, `build ${name} rootless`);
      expect(rootless.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(rootless.stdout.trim()).toBe(asRoot.stdout.trim());
    }
  });

  it('a user with no subordinate ids builds hello, is warned, and a COPY --chown to another id names the fix', () => {
    const fix = `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${noIds}`;
    const info = asUser(noIds, ['info']);
    ok(info, 'info without subordinate ids');
    expect(info.stdout).toMatch(/^id mapping: +0→\d+ \(gids 0→\d+\)$/m);
    expect(info.stdout).toContain(`no range for ${noIds} in /etc/subuid`);

    const b = asUser(noIds, ['build', '--progress=plain', '-t', 'hello:1', sample('hello')]);
    ok(b, 'build hello with only the own uid mapped');
    expect(b.stderr.split('\n')[0]).toBe(
      `warning: rootless with only ${noIds}'s own uid mapped: files owned by other users cannot be made (a chown fails); fix: ${fix}`,
    );

    const c = asUser(noIds, ['build', '--progress=plain', ctx]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(
      /COPY --chown=5:5 a \/a: cannot give \/a the owner 5:5: this rootless run maps only the ids 0→\d+ \(no subordinate ids for tsbrb\w+\?\)/,
    );
    expect(c.stderr).toContain(`hint: give ${noIds} subordinate ids, then build again: ${fix}`);

    // a RUN whose chown fails gets the fix too (best effort: read from its output)
    const r = asUser(
      noIds,
      ['build', '--progress=plain', '-f', '-', ctx],
      {},
      'FROM busybox\nRUN touch /f && chown 5:5 /f\n',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/chown: \/f: Invalid argument/);
    expect(r.stderr).toContain(
      `so a chown to any other id fails: give ${noIds} subordinate ids, then build again: ${fix}`,
    );
  });

  it('a rebuild with every step cached does not enter the user namespace; one with a change does, shown once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-cached-'));
    try {
      chmodSync(dir, 0o755);
      const buildfile = (v: string): void =>
        writeFileSync(join(dir, 'Buildfile'), `FROM busybox\nRUN echo ${v} > /v && chown 7:7 /v\nCOPY a /a\n`, {
          mode: 0o644,
        });
      writeFileSync(join(dir, 'a'), 'a\n', { mode: 0o644 });
      buildfile('one');
      const first = asUser(withIds, ['build', '-q', dir]);
      ok(first, 'first build');
      const again = asUser(withIds, ['--debug', 'build', '--progress=plain', dir]);
      ok(again, 'no-op rebuild');
      const lines = again.stderr.split('\n');
      expect(lines[0]).toMatch(/^mode rootless /);
      // printed only by the first process, when its cached-only attempt is the build (cli/commands/build.ts)
      expect(lines[1]).toBe('every step was cached: built without entering the user namespace');
      expect(lines.filter((l) => l.startsWith('mode rootless'))).toHaveLength(1);
      expect(lines.filter((l) => / CACHED$/.test(l))).toHaveLength(3);
      expect(lines).toContain(`image ${first.stdout.trim()}`);

      // a change: the attempt gives way to the build in the namespace, and only that build's progress is shown
      buildfile('two');
      const changed = asUser(withIds, ['--debug', 'build', '--progress=plain', '-t', 'cached:2', dir]);
      ok(changed, 'rebuild with a change');
      const cl = changed.stderr.split('\n');
      expect(cl.filter((l) => l.startsWith('mode rootless'))).toHaveLength(1);
      expect(changed.stderr).not.toContain('every step was cached');
      expect(cl.filter((l) => l.includes(' 1/3] FROM '))).toHaveLength(1);
      expect(cl.filter((l) => l.includes(' 3/3] COPY a /a'))).toHaveLength(1);
      // the RUN ran in the namespace: its chown to a subordinate id worked
      const run = asUser(withIds, ['run', 'cached:2', 'sh', '-c', 'cat /v; stat -c %u /v']);
      ok(run, 'run the rebuilt image');
      expect(run.stdout).toBe('two\n7\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('device nodes of a base layer are skipped with one warning, and the build goes on', async () => {
    await seedDeviceBase();
    const b = asUser(
      withIds,
      ['build', '--progress=plain', '-t', 'dev:1', '-f', '-', ctx],
      {},
      'FROM devbase\nRUN echo ok\n',
    );
    ok(b, 'build from a base with a device node');
    const warnings = b.stderr.split('\n').filter((l) => l.startsWith('warning: device nodes'));
    expect(warnings).toEqual([
      expect.stringMatching(/^warning: device nodes in layers are skipped in a rootless run .*first "\.\/dev\/null"/),
    ]);
    expect(b.stderr).toMatch(/\| ok$/m);
  });

  it("root in a podman container without --privileged is rootless, builds hello with root's digest and runs it", () => {
    // the container's root is a directory of mount points; /usr, /etc and the checkout come from the host, read-only
    const rootfs = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-ctr-'));
    try {
      for (const d of ['usr', 'etc', 'tmp', 'run', 'proc', 'sys', 'dev', 'root', 'var/lib/tsbuild'])
        mkdirSync(join(rootfs, d), { recursive: true });
      for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(rootfs, l));
      const modules = realpathSync(join(REPO, 'node_modules'));
      const binds = [REPO, modules].flatMap((d) => ['-v', `${d}:${d}:ro`]);
      const env = 'SOURCE_DATE_EPOCH=1700000000';
      const reg = ['--registry-mirror', `http://${registry.host}`, '--insecure-registry', registry.host].join(' ');
      const script = `${env} ${BIN} ${reg} info && ${env} ${BIN} ${reg} build -q --no-cache -t hello:1 ${sample('hello')} && ${BIN} run hello:1`;
      const r = spawnSync(
        'podman',
        [
          '--runtime',
          'runc',
          'run',
          '--rm',
          '-v',
          '/usr:/usr:ro',
          '-v',
          '/etc:/etc:ro',
          ...binds,
          '--network',
          'host',
          ...PODMAN_ULIMITS,
          // slirp4netns needs the tun device; a fresh /proc in a user namespace needs /proc unmasked
          '--device',
          '/dev/net/tun',
          '--security-opt',
          'unmask=ALL',
          '--rootfs',
          rootfs,
          'sh',
          '-c',
          script,
        ],
        { encoding: 'utf8', timeout: 600_000 },
      );
      ok({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }, 'build in a podman container');
      expect(r.stdout).toMatch(/^mode: +rootless$/m);
      expect(r.stdout).toMatch(/^reason: +mode rootless: root without CAP_SYS_ADMIN \(a container\?\)/m);
      expect(r.stdout).toMatch(/^id mapping: +0-65535→0 /m);
      // unmasked /proc: each RUN gets a fresh one (the process sandbox), no warning
      expect(r.stdout).toMatch(/^reason: +proc: a fresh \/proc in a PID namespace per RUN$/m);
      expect(r.stderr).not.toContain('no process sandbox');
      expect(r.stdout).toContain('Hello from tsbuild');
      const digest = /^(sha256:[0-9a-f]{64})$/m.exec(r.stdout)?.[1];
      const asRoot = tsb(['build', '-q', '--no-cache', sample('hello')], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      ok(asRoot, 'build hello as root');
      expect(digest).toBe(asRoot.stdout.trim());
    } finally {
      rmSync(rootfs, { recursive: true, force: true });
    }
  });

  it('in a podman container whose /proc is masked, RUN shares that /proc in both isolations, with one warning each', () => {
    // no unmask=ALL: podman's masked paths stay over the container's /proc, so a fresh procfs is refused (EPERM)
    const rootfs = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-masked-'));
    try {
      for (const d of ['usr', 'etc', 'tmp/ctx', 'run', 'proc', 'sys', 'dev', 'root', 'var/lib/tsbuild'])
        mkdirSync(join(rootfs, d), { recursive: true });
      for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(rootfs, l));
      // PID 1 of its own namespace, a /proc to read, /proc/keys masked (the /dev/null bind)
      writeFileSync(
        join(rootfs, 'tmp/ctx/Buildfile'),
        'FROM busybox:latest\nRUN grep -q ^Pid: /proc/self/status && test -c /proc/keys && echo "proc-ok pid $$"\n',
      );
      const modules = realpathSync(join(REPO, 'node_modules'));
      const binds = [REPO, modules].flatMap((d) => ['-v', `${d}:${d}:ro`]);
      const reg = ['--registry-mirror', `http://${registry.host}`, '--insecure-registry', registry.host].join(' ');
      const build = (iso: string): string =>
        `${BIN} ${reg} build --progress=plain --no-cache --isolation ${iso} /tmp/ctx`;
      const script = `${BIN} info && ${build('chroot')} && ${build('pivot')}`;
      const r = spawnSync(
        'podman',
        [
          ...['--runtime', 'runc', 'run', '--rm', '-v', '/usr:/usr:ro', '-v', '/etc:/etc:ro', ...binds],
          '--network',
          'host',
          ...PODMAN_ULIMITS,
          ...['--device', '/dev/net/tun', '--rootfs', rootfs, 'sh', '-c', script],
        ],
        { encoding: 'utf8', timeout: 600_000 },
      );
      ok({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }, 'build in a podman container, /proc masked');
      expect(r.stdout).toMatch(/^mode: +rootless$/m);
      expect(r.stdout).toMatch(
        /^reason: +proc: masked by the container, RUN shares its \/proc \(no process sandbox\)/m,
      );
      const out = r.stdout + r.stderr;
      expect(out.match(/proc-ok pid 1$/gm), out).toHaveLength(2);
      expect(r.stderr.match(/warning: no process sandbox/gi), r.stderr).toHaveLength(2);
    } finally {
      rmSync(rootfs, { recursive: true, force: true });
    }
  });

  it('--mode rootless as root builds the same image; --mode root as a user fails at once; --isolation none is refused', () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const rootlessRoot = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-asroot-'));
    try {
      const args = ['--root', rootlessRoot, '--mode', 'rootless'];
      const info = tsb([...args, 'info']);
      ok(info, 'info --mode rootless as root');
      expect(info.stdout).toMatch(/^mode: +rootless$/m);
      expect(info.stdout).toMatch(/^id mapping: +0-65535→0 /m);
      const b = tsb([...args, 'build', '-q', '--no-cache', sample('hello')], { env });
      ok(b, 'build --mode rootless as root');
      const plain = tsb(['build', '-q', '--no-cache', sample('hello')], { env });
      ok(plain, 'build as root');
      expect(b.stdout.trim()).toBe(plain.stdout.trim());
      // the env var chooses the same
      const e = tsb(['--root', rootlessRoot, 'info', '--json'], { env: { TSBUILD_MODE: 'rootless' } });
      expect((JSON.parse(e.stdout) as { mode: string }).mode).toBe('rootless');
    } finally {
      rmSync(rootlessRoot, { recursive: true, force: true });
    }

    // root's own store, whose layers carry trusted.* marks, is refused by a rootless run (and names the fix)
    const mixed = tsb(['--mode', 'rootless', 'build', '-q', '--no-cache', sample('hello')]);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toContain('holds layers unpacked as root (trusted.overlay xattrs)');
    expect(mixed.stderr).toContain('hint: give this mode a store of its own (--root DIR or TSBUILD_ROOT)');

    const u = asUser(withIds, ['--mode', 'root', 'build', sample('hello')]);
    expect(u.code).toBe(1);
    expect(u.stderr).toContain(
      `error: --mode root needs euid 0 with CAP_SYS_ADMIN in the initial user namespace: not root (euid ${withIdsUid})`,
    );
    expect(u.stderr).toContain('hint: run as root (sudo), or use --mode rootless (or auto)');
    expect(u.stderr).not.toContain('[stage-0');

    const none = tsb(['build', '--isolation', 'none', sample('hello')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--isolation none is only for copy snapshots (mode unprivileged), not mode root');
    expect(tsb(['--mode', 'sideways', 'info']).code).toBe(2);
    const runNone = tsb(['run', '--isolation', 'none', 'busybox', 'true']);
    expect(runNone.code).toBe(2);
    expect(runNone.stderr).toContain('--isolation none is only for copy snapshots');
  });
});
