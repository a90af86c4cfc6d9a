// A dockerd of a benchmark's own (state under `work`, BuildKit inside), and the busybox base image benches build on.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });

/**
 * Starts dockerd with its state under `work`; returns the environment that reaches it and stop(), or undefined when
 * docker.io is not installed.
 */
export async function startDockerd(work) {
  if (!existsSync('/usr/sbin/dockerd')) return undefined;
  const w = join(work, 'dockerd');
  await mkdir(w, { recursive: true });
  const sock = `unix://${w}/docker.sock`;
  const env = { ...process.env, DOCKER_HOST: sock };
  sh('sh', [
    '-c',
    `setsid dockerd --iptables=false --bridge=none --storage-driver=overlay2 --data-root ${w}/data --exec-root ${w}/exec -H ${sock} --pidfile ${w}/pid > ${w}/log 2>&1 < /dev/null &`,
  ]);
  for (let i = 0; i < 150; i++) {
    if (spawnSync('/usr/bin/docker', ['info'], { env, stdio: 'ignore' }).status === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = async () => {
    const pid = Number(await readFile(join(w, 'pid'), 'utf8').catch(() => '0'));
    if (pid > 0) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && existsSync(join(w, 'pid')); i++) await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { env, stop };
}

/**
 * busybox (the host's static binary and its applets) imported into the tsbuild store `root` and pushed to `host`
 * as library/busybox:latest.
 */
export async function seedBusybox(work, tsbuild, root, host) {
  const rootfs = join(work, 'busybox');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await mkdir(join(rootfs, 'tmp'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  sh('sh', [
    '-c',
    `cd ${rootfs}/bin && for c in $(./busybox --list); do [ "$c" = busybox ] || ln -sf busybox $c; done`,
  ]);
  sh('tar', ['-C', rootfs, '-cf', join(work, 'busybox.tar'), '.']);
  sh(tsbuild, ['--root', root, 'import', join(work, 'busybox.tar'), 'busybox-base:latest']);
  sh(tsbuild, [
    '--root',
    root,
    'push',
    '--insecure-registry',
    host,
    'busybox-base:latest',
    `${host}/library/busybox:latest`,
  ]);
}
