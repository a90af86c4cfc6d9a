// `--ssh` agents for `RUN --mount=type=ssh`, as buildx gives them: `default` (the caller's SSH_AUTH_SOCK), `ID=SOCKET`
// (an agent socket forwarded) or `ID=KEY[,KEY…]` (key files loaded into an `ssh-agent` this build starts and stops).
// A RUN never sees the agent's own socket: it gets a socket of its own, made for the step with the mount's mode and
// owner, whose connections are relayed to the agent. So the host path of an agent, and the keys, reach no layer,
// config, history, cache key, report or event; the step's cache key holds only the id (as BuildKit's).
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { TsbuildError, UsageError } from '../oci/index.js';

export interface SshSpec {
  /** `default` unless named. */
  id: string;
  /** Empty: the caller's SSH_AUTH_SOCK. One socket: forwarded. Else key files. */
  paths: string[];
}

export class SshAgentError extends TsbuildError {
  override name = 'SshAgentError';
  constructor(message: string, hint: string) {
    super('SSH_AGENT', message, { hint });
  }
}

/** `--ssh default|ID|ID=PATH[,PATH…]` as buildx parses it. */
export function parseSshSpec(spec: string): SshSpec {
  const eq = spec.indexOf('=');
  const id = eq < 0 ? spec : spec.slice(0, eq);
  if (id === '' || !/^[A-Za-z0-9_.-]+$/.test(id))
    throw new UsageError(`--ssh "${spec}": the id must be letters, digits, '.', '_' or '-'`);
  const paths =
    eq < 0
      ? []
      : spec
          .slice(eq + 1)
          .split(',')
          .filter(Boolean);
  return { id, paths };
}

type Source = { kind: 'socket'; path: string } | { kind: 'keys'; paths: string[] };

/** The build's agents by id: checked when the build starts, key agents started on first use and stopped at the end. */
export class SshAgents {
  private readonly sources = new Map<string, Source>();
  private readonly started = new Map<string, Promise<{ socket: string; stop(): Promise<void> }>>();

  /** Fails (exit 2) on a spec that names nothing usable, before anything runs. */
  constructor(
    specs: SshSpec[],
    private readonly tmpDir: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    for (const s of specs) {
      if (this.sources.has(s.id)) throw new UsageError(`--ssh ${s.id} is given twice`);
      if (s.paths.length === 0) {
        const sock = env.SSH_AUTH_SOCK;
        if (!sock)
          throw new UsageError(`--ssh ${s.id}: SSH_AUTH_SOCK is not set`, {
            hint: 'start an agent (eval $(ssh-agent); ssh-add), or give a key file: --ssh ID=/path/to/key',
          });
        this.sources.set(s.id, { kind: 'socket', path: sock });
        continue;
      }
      const kinds = s.paths.map((p) => {
        const st = statSync(p, { throwIfNoEntry: false });
        if (!st) throw new UsageError(`--ssh ${s.id}: ${p} does not exist`);
        if (!st.isSocket() && !st.isFile())
          throw new UsageError(`--ssh ${s.id}: ${p} is neither a socket nor a key file`);
        return st.isSocket();
      });
      if (kinds.length === 1 && kinds[0]) this.sources.set(s.id, { kind: 'socket', path: s.paths[0]! });
      else if (kinds.some((k) => k))
        throw new UsageError(`--ssh ${s.id}: give one agent socket or key files, not both`);
      else this.sources.set(s.id, { kind: 'keys', paths: s.paths });
    }
  }

  has(id: string): boolean {
    return this.sources.has(id);
  }

  /**
   * A socket for one step, in a new private directory, relaying to agent `id`: owned by `uid:gid` with `mode`.
   * Returns its directory and name (the RUN bind-mounts it) and a close that stops the relay and removes it.
   */
  async relay(
    id: string,
    owner: { uid: number; gid: number; mode: number },
  ): Promise<{ dir: string; name: string; close(): Promise<void> }> {
    const upstream = await this.agentSocket(id);
    const dir = await mkdtemp(join(this.tmpDir, 'ssh-'));
    const name = 'agent.sock';
    const path = join(dir, name);
    const conns = new Set<import('node:net').Socket>();
    const server: Server = createServer((c) => {
      const u = connect(upstream);
      conns.add(c).add(u);
      const end = (): void => {
        c.destroy();
        u.destroy();
        conns.delete(c);
        conns.delete(u);
      };
      c.on('error', end).on('close', end);
      u.on('error', end).on('close', end);
      c.pipe(u);
      u.pipe(c);
    });
    try {
      await new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen(path, () => res());
      });
      await chown(path, owner.uid, owner.gid);
      await chmod(path, owner.mode);
    } catch (e) {
      server.close();
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      dir,
      name,
      close: async () => {
        for (const c of conns) c.destroy();
        await new Promise<void>((r) => server.close(() => r()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  /** The agent socket for `id`, starting `ssh-agent` with its keys the first time. */
  private async agentSocket(id: string): Promise<string> {
    const src = this.sources.get(id);
    if (!src) throw new Error(`internal: no ssh agent ${id}`);
    if (src.kind === 'socket') return src.path;
    let p = this.started.get(id);
    if (!p) {
      p = this.startAgent(id, src.paths);
      this.started.set(id, p);
    }
    return (await p).socket;
  }

  /**
   * `ssh-agent -a SOCKET sh -c '…; exec cat'`: the agent runs as the child of a `cat` that reads this process's
   * pipe, so it exits on its own (ssh-agent watches its parent) even if this build dies without cleaning up; close()
   * stops it at once by the pid it printed.
   */
  private async startAgent(id: string, keys: string[]): Promise<{ socket: string; stop(): Promise<void> }> {
    const dir = await mkdtemp(join(this.tmpDir, 'ssh-agent-'));
    const socket = join(dir, 'agent.sock');
    const child = spawn('ssh-agent', ['-a', socket, 'sh', '-c', 'echo "$SSH_AGENT_PID"; exec cat'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stdin!.on('error', () => undefined);
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    const agentPid = (): number | undefined => {
      const n = Number(stdout.split('\n')[0]);
      return stdout.includes('\n') && Number.isInteger(n) && n > 0 ? n : undefined;
    };
    const stop = async (): Promise<void> => {
      const pid = agentPid();
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      child.stdin!.end();
      if (child.exitCode === null && child.signalCode === null) await exited;
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await new Promise<void>((res, rej) => {
        child.once('error', rej);
        child.once('spawn', res);
      });
      for (let i = 0; agentPid() === undefined || !(await stat(socket).catch(() => undefined)); i++) {
        if (child.exitCode !== null || i > 500) throw new Error(stderr.trim() || 'ssh-agent did not start');
        await new Promise((r) => setTimeout(r, 10));
      }
      await sshAdd(socket, keys);
    } catch (e) {
      await stop().catch(() => undefined);
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      throw new SshAgentError(
        `--ssh ${id}: ${missing ? 'ssh-agent was not found' : `cannot load the key: ${(e as Error).message}`}`,
        missing
          ? 'install openssh-client, or forward a running agent: --ssh default or --ssh ID=$SSH_AUTH_SOCK'
          : 'a key with a passphrase cannot be loaded here: add it to an agent (ssh-add) and use --ssh default',
      );
    }
    return { socket, stop };
  }

  /** Stops the agents this build started. */
  async close(): Promise<void> {
    for (const p of this.started.values()) await (await p.catch(() => undefined))?.stop();
  }
}

/** `ssh-add KEY…` into the agent at `socket`, never prompting. */
function sshAdd(socket: string, keys: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('ssh-add', ['-q', ...keys], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SSH_AUTH_SOCK: socket, SSH_ASKPASS_REQUIRE: 'never' },
    });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err.trim() || `ssh-add exited ${code}`))));
  });
}
