// A loopback sshd (Debian's openssh-server) for the ssh tests: a throwaway host key and user key, root's login
// allowed by that key only, on a free port of 127.0.0.1; started and stopped by the test. And an image holding
// the host's ssh and git clients (with their libraries) over busybox, pushed to the test registry, so a RUN can
// clone over ssh without a distribution mirror.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hostPlatform } from '../../oci/index.js';
import { makeBusyboxRootfs } from '../fixtures/busybox.js';
import { DEFAULT_PATH, initLayout, skopeoCopy, writeImage, writeIndex, writeLayer } from '../fixtures/images.js';
import { freePort } from '../fixtures/registry.js';

export interface Sshd {
  port: number;
  /** The user key (private key file, no passphrase) that logs in as root. */
  keyFile: string;
  dir: string;
  stop(): Promise<void>;
}

export const SSHD = '/usr/sbin/sshd';

export async function startSshd(): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-sshd-'));
  const keyFile = join(dir, 'user_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsbuild-test', '-f', keyFile]);
  await copyFile(`${keyFile}.pub`, join(dir, 'authorized_keys'));
  const port = await freePort();
  await writeFile(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'PidFile none',
      '',
    ].join('\n'),
  );
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (up) break;
    if (child.exitCode !== null || i > 300) throw new Error(`sshd did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    keyFile,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts an ssh-agent holding `keyFile`; returns its socket and a stop. */
export async function startAgent(keyFile: string): Promise<{ socket: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-agent-'));
  const socket = join(dir, 'agent.sock');
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      execFileSync('ssh-add', ['-q', keyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'pipe' });
      break;
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    socket,
    stop: async () => {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The absolute paths `ldd` names for `bins` (libraries and the dynamic loader). */
function libsOf(bins: string[]): string[] {
  const out = new Set<string>();
  for (const b of bins) {
    const text = execFileSync('ldd', [b], { encoding: 'utf8' });
    for (const m of text.matchAll(/(\/\S+)\s+\(0x/g)) out.add(m[1]!);
  }
  return [...out];
}

/** Pushes busybox + the host's ssh and git (and their libraries) as HOST/library/sshgit:latest. */
export async function seedSshGitImage(host: string): Promise<string> {
  const rootfs = await makeBusyboxRootfs();
  const layout = await mkdtemp(join(tmpdir(), 'tsbuild-sshgit-'));
  try {
    const bins = ['/usr/bin/ssh', '/usr/bin/git'];
    for (const f of [...bins, ...libsOf(bins), '/usr/lib/git-core/git']) {
      const dest = join(rootfs, f);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, await readFile(f));
      await chmod(dest, 0o755);
    }
    await initLayout(layout);
    const layer = await writeLayer(layout, rootfs);
    const m = await writeImage(
      layout,
      [layer],
      { Env: [DEFAULT_PATH, 'HOME=/root'], Cmd: ['/bin/sh'] },
      hostPlatform(),
    );
    await writeIndex(layout, [
      {
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      },
    ]);
    const dest = `${host}/library/sshgit:latest`;
    await skopeoCopy(`oci:${layout}:latest`, `docker://${dest}`, ['--dest-tls-verify=false']);
    return dest;
  } finally {
    await rm(rootfs, { recursive: true, force: true });
    await rm(layout, { recursive: true, force: true });
  }
}
