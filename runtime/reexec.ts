// Enters a rootless run's user namespace: the CLI runs itself again, once, inside a new user + mount + UTS + IPC
// namespace (buildah unshare's and rootlesskit's way), and this process only forwards signals and the exit status.
// The child stops (a `read` on fd 3) until its id maps are written: by newuidmap/newgidmap for subordinate ranges,
// directly for the user's own id alone (setgroups denied first, as the kernel requires) or for root's 1:1 map. Only
// then does it exec Node again, so the new Node starts as uid 0 of the namespace with its full capabilities there.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { RuntimeError } from './errors.js';
import type { IdRange, ModeDecision } from './mode.js';

const STOP = 'echo >&4; exec 4>&-; read _ <&3; exec 3<&-; exec "$@"';

function tool(name: string): string {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => `${d}/${name}`).find((p) => existsSync(p)) ?? name;
}

function writeMaps(pid: number, d: ModeDecision): void {
  const flat = (m: IdRange[]): string[] => m.flatMap((r) => [String(r.inside), String(r.outside), String(r.count)]);
  const line = (m: IdRange[]): string => m.map((r) => `${r.inside} ${r.outside} ${r.count}`).join('\n') + '\n';
  const euid = process.geteuid?.() ?? 0;
  if (euid !== 0 && !d.singleId) {
    for (const [bin, map] of [
      ['newuidmap', d.uidMap!],
      ['newgidmap', d.gidMap!],
    ] as const) {
      const r = spawnSync(tool(bin), [String(pid), ...flat(map)], { encoding: 'utf8' });
      if (r.status !== 0)
        throw new RuntimeError(
          'USERNS_MAP',
          `${bin} ${pid} ${flat(map).join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`,
          {
            hint: `check /etc/subuid and /etc/subgid and that ${bin} is setuid root (Debian's uidmap package)`,
          },
        );
    }
    return;
  }
  try {
    // an unprivileged writer may map only its own gid, and only once setgroups is denied
    if (euid !== 0) writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    writeFileSync(`/proc/${pid}/uid_map`, line(d.uidMap!));
    writeFileSync(`/proc/${pid}/gid_map`, line(d.gidMap!));
  } catch (e) {
    throw new RuntimeError('USERNS_MAP', `writing the id maps of ${pid}: ${(e as Error).message}`, {
      hint: 'the user namespace was made but its ids could not be mapped: run with --mode unprivileged',
    });
  }
}

/**
 * Runs `argv` (this CLI again) inside a new user namespace mapped as `d` says, with `env` (the caller marks it as
 * the child's); resolves to the exit
 * code to leave with (a death by signal n is 128 + n, as a shell reports it).
 */
export async function runInUserNamespace(argv: string[], env: NodeJS.ProcessEnv, d: ModeDecision): Promise<number> {
  const child = spawn(
    tool('unshare'),
    [
      '--user',
      '--mount',
      '--uts',
      '--ipc',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      STOP,
      'tsbuild-userns',
      ...argv,
    ],
    { stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'], env },
  );
  const forward = (sig: NodeJS.Signals) => (): void => void child.kill(sig);
  // A terminal's Ctrl-C reaches the child too (same process group): forwarding it as well would be a second
  // interrupt, which ends the child without its clean-up. The handler stays, so this process waits for the child.
  const terminal = process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY;
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
  const handlers = signals.map((s) => [s, s === 'SIGINT' && terminal ? () => undefined : forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, sig) => resolve(code ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
  });
  try {
    const ready = await new Promise<boolean>((resolve) => {
      (child.stdio[4] as Readable).once('data', () => resolve(true));
      child.once('exit', () => resolve(false));
    });
    if (!ready) {
      const code = await exited;
      throw new RuntimeError('USERNS', `could not enter a user namespace (unshare exited ${code})`, {
        hint: 'run `tsbuild info` to see what this host allows, or use --mode unprivileged',
      });
    }
    try {
      writeMaps(child.pid!, d);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    (child.stdio[3] as Writable).end('go\n');
    return await exited;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}
