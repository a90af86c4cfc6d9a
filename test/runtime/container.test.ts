// runContainer in a busybox rootfs, in both isolations: namespaces, root filesystem, process, privileges.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capMask, containerCaps } from '../../runtime/caps.js';
import type { Isolation } from '../../runtime/spec.js';
import { makeEnv, tree, type Env } from './helpers.js';

describe.each<Isolation>(['chroot', 'pivot'])('runContainer (%s isolation)', (isolation) => {
  let env: Env;
  const run = (args: string[], spec: Parameters<Env['run']>[1] = {}) => env.run(args, { isolation, ...spec });
  beforeAll(async () => {
    env = await makeEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  it("ps inside sees only the container's processes, the command being PID 1", async () => {
    const r = await run(['/bin/ps', '-o', 'pid,comm']);
    expect(r.exitCode).toBe(0);
    const pids = r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(pids).toEqual([1]);
  });

  it("has its own mount, PID, UTS, IPC and network namespaces (the host's network only when asked)", async () => {
    const { readlink } = await import('node:fs/promises');
    const kinds = ['mnt', 'pid', 'uts', 'ipc', 'net'];
    const r = await run(['/bin/sh', '-c', kinds.map((k) => `readlink /proc/self/ns/${k}`).join('; ')]);
    const inside = r.stdout.trim().split('\n');
    const outside = await Promise.all(kinds.map((k) => readlink(`/proc/self/ns/${k}`)));
    expect(inside.every((v, i) => v !== outside[i])).toBe(true);
    const host = await run(['/bin/readlink', '/proc/self/ns/net'], { network: 'host' });
    expect(host.stdout.trim()).toBe(outside[4]);
  });

  it('mounts its root overlay volatile: unmounting it does not sync the upper file system', async () => {
    const r = await run(['/bin/sh', '-c', 'grep "^overlay / " /proc/self/mounts']);
    expect(r.exitCode).toBe(0);
    // newer kernels show it as fsync=volatile
    expect(r.stdout.split(' ')[3]).toMatch(/(^|,)(fsync=)?volatile(,|$)/);
  });

  it("/proc/1/cmdline is the container's command", async () => {
    const r = await run(['/bin/sh', '-c', 'cat /proc/1/cmdline; true', 'marker-arg']);
    expect(r.stdout.split('\0')).toEqual(['/bin/sh', '-c', 'cat /proc/1/cmdline; true', 'marker-arg', '']);
  });

  it("has its own hostname: the given one, or a short id that differs from the host's", async () => {
    const named = await run(['/bin/hostname'], { hostname: 'builder-7' });
    expect(named.stdout.trim()).toBe('builder-7');
    const dflt = await run(['/bin/sh', '-c', 'hostname; cat /etc/hostname; grep -c "$(hostname)" /etc/hosts']);
    const [h, file, count] = dflt.stdout.trim().split('\n');
    expect(h).not.toBe(hostHostname());
    expect(h).toMatch(/^[0-9a-f]{12}$/);
    expect(file).toBe(h);
    expect(Number(count)).toBeGreaterThan(0);
    expect(hostHostname()).not.toBe(h);
  });

  it('host files outside the rootfs are unreachable through .., /proc/1/root, a symlink to / and chroot', async () => {
    const secretDir = join(env.base, 'host-secret');
    await mkdir(secretDir);
    await writeFile(join(secretDir, 'secret'), 'top secret');
    // a layer with a symlink to / (as an image could ship)
    const layer = join(env.base, 'evil-layer');
    await mkdir(layer);
    await symlink('/', join(layer, 'hostroot'));
    await symlink('../../../../../../..', join(layer, 'up'));
    const { upperdir, workdir } = await env.dirs();
    const s = join(secretDir, 'secret');
    const script = [
      `cat ../../../../../../..${s}`,
      `cat /proc/1/root${s}`,
      `cat /proc/self/root/../../..${s}`,
      `cat /hostroot${s}`,
      `cat /up${s}`,
      `cd / && cd .. && cd .. && cat .${s}`,
      'chroot / /bin/true',
      `mount -t tmpfs none /mnt`,
      `mount --bind / /mnt`,
      'echo done',
    ]
      .map((c) => `${c} 2>/dev/null && echo "ESCAPED: ${c.replace(/"/g, '')}"`)
      .join('; ');
    const r = await run(['/bin/sh', '-c', `mkdir -p /mnt; ${script}; echo end`], {
      rootfs: { lowerdirs: [env.lower, layer], upperdir, workdir },
    });
    expect(r.stdout).not.toContain('top secret');
    const escaped = r.stdout.split('\n').filter((l) => l.startsWith('ESCAPED'));
    // chroot works in pivot isolation (CAP_SYS_CHROOT is in Docker's set) but leads nowhere; in chroot isolation it is
    // denied.
    const expected =
      isolation === 'pivot' ? ['ESCAPED: chroot / /bin/true', 'ESCAPED: echo done'] : ['ESCAPED: echo done'];
    expect(escaped).toEqual(expected);
    expect(r.stdout).toContain('end');
  });

  it('a chroot escape with a kept directory fd is impossible (no CAP_SYS_CHROOT in chroot isolation; old root gone in pivot)', async () => {
    // busybox chroot(2)s then chdirs into the new root, so the classic "chroot + cd .. + chroot ." is tried through
    // the shell: if chroot into a subdirectory were allowed and left cwd outside, `cd ../../..` would climb to the
    // host.
    const r = await run([
      '/bin/sh',
      '-c',
      'mkdir -p /a/b; cd /a/b; chroot /a /bin/sh -c "cd ../../../..; ls /" 2>&1; ls /proc/1/root/ | wc -l',
    ]);
    const rootEntries = (await tree(env.lower)).filter((p) => !p.includes('/')).length;
    expect(Number(r.stdout.trim().split('\n').pop())).toBeGreaterThanOrEqual(rootEntries);
    expect(r.stdout).not.toContain('vmlinuz');
    expect(r.stdout).not.toContain('work\n');
  });

  it('device nodes made with mknod do not open; /proc/sys is read-only; kernel /proc files are masked', async () => {
    const [major, minor] = /^\S+ \S+ (\d+):(\d+) \/ \/ /m
      .exec(await readFile('/proc/self/mountinfo', 'utf8'))!
      .slice(1);
    const r = await run([
      '/bin/sh',
      '-c',
      `mknod /tmp/disk b ${major} ${minor} && echo made; head -c 16 /tmp/disk | wc -c; mknod /dev/disk b ${major} ${minor}; head -c 16 /dev/disk | wc -c; ` +
        'echo 1 > /proc/sys/vm/drop_caches && echo WROTE; wc -c < /proc/timer_list; head -c 4 /dev/urandom | wc -c',
    ]);
    expect(r.stdout).toBe('made\n0\n0\n0\n4\n');
    expect(r.stderr).toContain('/tmp/disk: Permission denied');
    expect(r.stderr).toContain('Read-only file system');
  });

  it('writes land in the upperdir only; the lowerdir is untouched; a /bin/true run leaves the upperdir empty', async () => {
    const before = await tree(env.lower);
    const idle = await run(['/bin/true']);
    expect(idle.exitCode).toBe(0);
    expect(await tree(idle.upperdir)).toEqual([]);
    const r = await run(['/bin/sh', '-c', 'echo hello > /root/new && rm /bin/vi && echo x >> /etc/passwd']);
    expect(r.exitCode).toBe(0);
    expect(await tree(r.upperdir)).toEqual(['bin', 'bin/vi', 'etc', 'etc/passwd', 'root', 'root/new']);
    expect(await readFile(join(r.upperdir, 'root/new'), 'utf8')).toBe('hello\n');
    expect(await tree(env.lower)).toEqual(before);
    expect(await readFile(join(env.lower, 'etc/passwd'), 'utf8')).not.toContain('x\n');
  });

  it('mount points of a bare rootfs (no /etc, /dev, /proc, /sys) and of extra mounts leave no trace in the upperdir', async () => {
    const bare = join(env.base, `bare-${isolation}`);
    await mkdir(join(bare, 'bin'), { recursive: true });
    await symlink('/busybox', join(bare, 'bin/sh'));
    const { copyFile } = await import('node:fs/promises');
    await copyFile('/bin/busybox', join(bare, 'busybox'));
    const { upperdir, workdir } = await env.dirs();
    const hostData = join(env.base, 'bind-src');
    await mkdir(hostData, { recursive: true });
    await writeFile(join(hostData, 'data.txt'), 'from host');
    const r = await run(
      [
        '/bin/sh',
        '-c',
        '/busybox cat /run/secrets/token /src/data.txt; /busybox ls /cache/deep; /busybox touch /src/x 2>/dev/null || echo ro; echo > /cache/deep/f; /busybox ls /dev/null /proc/1 >/dev/null && echo ok',
      ],
      {
        rootfs: { lowerdirs: [bare], upperdir, workdir },
        mounts: [
          { type: 'file', target: '/run/secrets/token', content: 's3cr3t\n' },
          { type: 'bind', root: hostData, source: '/', target: '/src', readonly: true },
          { type: 'tmpfs', target: '/cache/deep' },
        ],
      },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('s3cr3t\nfrom hostro\nok\n');
    expect(await tree(upperdir)).toEqual([]);
  });

  it("an upperdir given with content keeps it (only the runtime's own mount points are taken out)", async () => {
    const { upperdir, workdir } = await env.dirs();
    await mkdir(join(upperdir, 'etc'));
    await writeFile(join(upperdir, 'etc/hosts'), 'kept');
    await writeFile(join(upperdir, 'previous'), 'from an earlier step');
    const r = await run(['/bin/cat', '/previous'], { rootfs: { lowerdirs: [env.lower], upperdir, workdir } });
    expect(r.stdout).toBe('from an earlier step');
    expect(await tree(upperdir)).toEqual(['etc', 'etc/hosts', 'previous']);
    expect(await readFile(join(upperdir, 'etc/hosts'), 'utf8')).toBe('kept');
  });

  it('the working directory is created when missing; env, umask 022, stdin closed, /dev nodes work', async () => {
    const r = await run(
      [
        '/bin/sh',
        '-c',
        'pwd; echo "$FOO|$PATH|$HOME"; umask; cat; echo x > /dev/null; head -c 4 /dev/zero | wc -c; ls /dev/pts/ptmx /dev/shm /dev/fd/ >/dev/null && echo devok',
      ],
      {
        cwd: '/work/dir',
        env: ['FOO=bar baz'],
      },
    );
    expect(r.stdout).toBe(
      '/work/dir\nbar baz|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root\n0022\n4\ndevok\n',
    );
    expect(await tree(r.upperdir)).toEqual(['work', 'work/dir']);
  });

  it("network none has only lo (up); network host sees the host's interfaces", async () => {
    const ifaces = (t: string): string[] =>
      t
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter(Boolean)
        .sort();
    const none = await run(['/bin/sh', '-c', 'cat /proc/net/dev; ls /sys/class/net; ip link show lo'], {
      network: 'none',
    });
    expect(ifaces(none.stdout.split('\n').slice(0, -4).join('\n'))).toEqual(['lo']);
    expect(none.stdout).toContain('<LOOPBACK,UP');
    // host networking: the very network namespace tsbuild is in (interfaces may come and go meanwhile)
    const { readlink } = await import('node:fs/promises');
    const host = await run(['/bin/readlink', '/proc/self/ns/net'], { network: 'host' });
    expect(host.stdout.trim()).toBe(await readlink('/proc/self/ns/net'));
    const isolated = await run(['/bin/readlink', '/proc/self/ns/net'], { network: 'none' });
    expect(isolated.stdout.trim()).not.toBe(await readlink('/proc/self/ns/net'));
  });

  it('USER nobody runs as 65534; uid:gid without a passwd entry works; supplementary groups come from /etc/group', async () => {
    const nobody = await run(['/bin/id'], { user: 'nobody' });
    expect(nobody.stdout.trim()).toBe('uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)');
    const numeric = await run(['/bin/sh', '-c', 'id -u; id -g; id -G'], { user: '1234:5678' });
    expect(numeric.stdout).toBe('1234\n5678\n5678\n');
    const layer = join(env.base, `groups-${isolation}`);
    await mkdir(join(layer, 'etc'), { recursive: true });
    await writeFile(
      join(layer, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nbuilder:x:1000:1000::/home/builder:/bin/sh\n',
    );
    await writeFile(
      join(layer, 'etc/group'),
      'root:x:0:\nbuilder:x:1000:\nwheel:x:10:builder\ndocker:x:999:other,builder\n',
    );
    const { upperdir, workdir } = await env.dirs();
    const r = await run(['/bin/sh', '-c', 'id -u; id -g; id -G; echo $HOME'], {
      user: 'builder',
      rootfs: { lowerdirs: [env.lower, layer], upperdir, workdir },
    });
    expect(r.stdout).toBe('1000\n1000\n1000 10 999\n/home/builder\n');
    const withGroup = await env.run(['/bin/sh', '-c', 'id -u; id -G'], {
      isolation,
      user: 'builder:wheel',
      rootfs: { lowerdirs: [env.lower, layer], ...(await env.dirs()) },
    });
    expect(withGroup.stdout).toBe('1000\n10\n');
  });

  it("keeps only Docker's default capabilities, with no_new_privs; a non-root user has none", async () => {
    const r = await run([
      '/bin/sh',
      '-c',
      'grep -E "^(CapBnd|CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs)" /proc/self/status',
    ]);
    const field = (name: string): string => new RegExp(`${name}:\\s+(\\S+)`).exec(r.stdout)![1]!;
    const mask = capMask(containerCaps(isolation));
    expect(BigInt(`0x${field('CapBnd')}`)).toBe(mask);
    expect(BigInt(`0x${field('CapEff')}`)).toBe(mask);
    expect(BigInt(`0x${field('CapInh')}`)).toBe(0n);
    expect(field('NoNewPrivs')).toBe('1');
    const user = await run(['/bin/grep', 'CapEff', '/proc/self/status'], { user: 'nobody' });
    expect(user.stdout.trim()).toBe('CapEff:\t0000000000000000');
  });

  it('reports a non-zero exit code and a death by signal exactly; a missing command is 127', async () => {
    expect((await run(['/bin/sh', '-c', 'exit 42'])).exitCode).toBe(42);
    const segv = await run(['/bin/sh', '-c', 'f() { f; }; f']);
    expect(segv).toMatchObject({ exitCode: null, signal: 'SIGSEGV' });
    const missing = await run(['/no/such/command']);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain('/no/such/command');
  });

  it('sets RLIMIT_NOFILE (soft = hard), capped at our own hard limit', async () => {
    const ours = Number(/Max open files\s+\d+\s+(\d+)/.exec(await readFile('/proc/self/limits', 'utf8'))![1]);
    const r = await run(['/bin/sh', '-c', 'ulimit -n; ulimit -Hn'], { nofile: 512 });
    expect(r.stdout).toBe('512\n512\n');
    const dflt = await run(['/bin/sh', '-c', 'ulimit -n; ulimit -Hn']);
    const expected = Math.min(1_048_576, ours);
    expect(dflt.stdout).toBe(`${expected}\n${expected}\n`);
  });

  it('streams output as it comes', async () => {
    const r = await run(['/bin/sh', '-c', 'echo one; sleep 0.3; echo two; sleep 0.3; echo three']);
    expect(r.stdout).toBe('one\ntwo\nthree\n');
    expect(r.stdoutChunks).toBe(3);
  });

  it('a timeout kills the container', async () => {
    const r = await run(['/bin/sleep', '100'], { timeoutMs: 200 });
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: null });
  });
});
