// `--ssh` and `RUN --mount=type=ssh` against a real sshd on the loopback: a RUN clones a private repository over
// ssh through the caller's agent (`--ssh default`) and through a key file tsbuild loads into an agent of its own
// (`--ssh ID=KEY`). The RUN reaches the host's loopback only on the host's network (`--network=host` with
// `--allow network.host`): the default network (slirp4netns) has no route to the host's loopback by design.
// Then every artifact of the build is searched for the key, the agent's socket path and an `env=` secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, lstatSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from '../builder/helpers/env.js';
import { seedBusyboxBase } from '../builder/helpers/base.js';
import { seedSshGitImage, startAgent, startSshd, type Sshd } from './sshd.js';
import { tsbAsync } from './helpers.js';

let env: BuildTestEnv;
let sshd: Sshd;
let agent: { socket: string; stop(): Promise<void> };
let repoUrl: string;
const PRIVATE = `private-content-${process.pid}`;
const ENV_SECRET = `env-secret-${process.pid}-9d1c`;
const SSH_OPTS = '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes';

beforeAll(async () => {
  env = await makeBuildEnv('ssh', async (host) => {
    await seedBusyboxBase(host);
    await seedSshGitImage(host);
  });
  sshd = await startSshd();
  agent = await startAgent(sshd.keyFile);
  const src = join(env.work, 'repo-src');
  await mkdir(src);
  await writeFile(join(src, 'private.txt'), `${PRIVATE}\n`);
  const git = (args: string[], cwd = src) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, stdio: 'pipe' });
  git(['init', '-q', '-b', 'main']);
  git(['add', '.']);
  git(['commit', '-q', '-m', 'private']);
  git(['clone', '-q', '--bare', src, join(env.work, 'private.git')], env.work);
  repoUrl = `ssh://root@127.0.0.1:${sshd.port}${join(env.work, 'private.git')}`;
});
afterAll(async () => {
  await agent?.stop();
  await sshd?.stop();
  await closeBuildEnv(env);
});

async function context(name: string, buildfile: string): Promise<string> {
  const dir = join(env.work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  return dir;
}

const build = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
  tsbAsync(env.root, env.registry.host, ['build', '--progress=json', '--allow', 'network.host', ...args], {
    env: extraEnv,
  });

const lines = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; line?: string; cached?: boolean; step?: { instruction: string } })
    .filter((e) => e.type === 'step-output')
    .map((e) => e.line!);

/** Every regular file below `dir`, gzip members inflated, as one string per file. */
function filesBelow(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        let b = readFileSync(p);
        if (b[0] === 0x1f && b[1] === 0x8b) b = gunzipSync(b);
        out.push({ path: p, text: b.toString('latin1') });
      }
    }
  };
  walk(dir);
  return out;
}

describe('--ssh and RUN --mount=type=ssh', () => {
  it('clones a private repository over ssh through the caller agent (--ssh default); nothing secret lands anywhere', async () => {
    const ctx = await context(
      'clone',
      [
        'FROM sshgit',
        `RUN --network=host --mount=type=ssh --mount=type=secret,id=tok,env=TOKEN \\`,
        `    GIT_SSH_COMMAND="ssh ${SSH_OPTS}" git clone -q ${repoUrl} /src && cat /src/private.txt && \\`,
        '    test -S "$SSH_AUTH_SOCK" && echo "sock=$SSH_AUTH_SOCK" && echo "token-len=${#TOKEN}"',
        '',
      ].join('\n'),
    );
    const report = join(env.work, 'clone-report.html');
    const cacheRef = `${env.registry.host}/cache/ssh:1`;
    const r = await build(
      [
        '--ssh',
        'default',
        '--secret',
        'id=tok,env=TOK_SRC',
        '--report',
        report,
        '--cache-to',
        `type=registry,ref=${cacheRef},mode=max`,
        '--cache-to',
        `type=local,dest=${join(env.work, 'cache-local')}`,
        '-t',
        `${env.registry.host}/app/ssh:1`,
        '--push',
        ctx,
      ],
      { SSH_AUTH_SOCK: agent.socket, TOK_SRC: ENV_SECRET },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stderr);
    expect(out).toContain(PRIVATE);
    expect(out).toContain('sock=/run/buildkit/ssh_agent.0');
    expect(out).toContain(`token-len=${ENV_SECRET.length}`);

    // the key's bytes, the agent's socket path (the caller's, and the directory of tsbuild's relays) and the env=
    // secret appear in no artifact: the store (layers, configs with history, cache records), the registry (pushed
    // layers, the exported cache), the local cache export, the report and the event stream
    const key = readFileSync(sshd.keyFile, 'utf8');
    const keyBody = key
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .map((l) => l.trim());
    const needles = [...keyBody, agent.socket, ENV_SECRET];
    const artifacts = [
      ...filesBelow(env.root),
      ...filesBelow(env.registry.dataDir),
      ...filesBelow(join(env.work, 'cache-local')),
      { path: report, text: await readFile(report, 'latin1') },
      { path: 'events', text: r.stderr + r.stdout },
    ];
    expect(artifacts.length).toBeGreaterThan(10);
    // the scan can see: the cloned file is in a layer of the store and of the registry
    expect(artifacts.some((a) => a.path.startsWith(env.registry.dataDir) && a.text.includes(PRIVATE))).toBe(true);
    for (const a of artifacts) for (const n of needles) expect(a.text.includes(n), `${n} in ${a.path}`).toBe(false);
  });

  it('keys the step by the ssh id, not the agent: another agent with the same id finds it cached', async () => {
    const other = await startAgent(sshd.keyFile);
    try {
      const ctx = join(env.work, 'clone');
      const r = await build(['--ssh', 'default', '--secret', 'id=tok,env=TOK_SRC', ctx], {
        SSH_AUTH_SOCK: other.socket,
        TOK_SRC: ENV_SECRET,
      });
      expect(r.code, r.stderr).toBe(0);
      const runEnd = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { type: string; cached?: boolean; step?: { instruction: string } })
        .find((e) => e.type === 'step-end' && e.step!.instruction.startsWith('RUN'));
      expect(runEnd?.cached).toBe(true);
    } finally {
      await other.stop();
    }
  });

  it('loads a key file into an agent of its own (--ssh ID=KEY) and mounts it by id', async () => {
    const ctx = await context(
      'keyfile',
      [
        'FROM sshgit',
        `RUN --network=host --mount=type=ssh,id=deploy,target=/tmp/agent,mode=0666 \\`,
        `    ssh ${SSH_OPTS} -p ${sshd.port} root@127.0.0.1 'echo via-key-$((6*7))' && ls -l /tmp/agent | cut -c1-10`,
        '',
      ].join('\n'),
    );
    const r = await build(['--no-cache', '--ssh', `deploy=${sshd.keyFile}`, ctx], { SSH_AUTH_SOCK: '' });
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stderr)).toEqual(expect.arrayContaining(['via-key-42', 'srw-rw-rw-']));
    // the agent holding the key is gone with the build
    let agents = '';
    try {
      agents = execFileSync('pgrep', ['-af', 'ssh-agent'], { encoding: 'utf8' });
    } catch {
      /* none at all */
    }
    expect(agents.split('\n').filter((l) => l.includes(env.root))).toEqual([]);
  });

  it('without the agent the clone fails; required=true with no such id fails naming it', async () => {
    const ctx = await context(
      'noagent',
      ['FROM sshgit', `RUN --network=host GIT_SSH_COMMAND="ssh ${SSH_OPTS}" git clone -q ${repoUrl} /src`, ''].join(
        '\n',
      ),
    );
    const a = await build([ctx], { SSH_AUTH_SOCK: agent.socket });
    expect(a.code).toBe(1);
    const req = await context('required', 'FROM sshgit\nRUN --mount=type=ssh,id=deploy,required=true true\n');
    const b = await build([req]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/no SSH agent or key \\"deploy\\" was given, and the mount is required \(--ssh deploy\)/);
    const c = await build(['--ssh', 'default', req], { SSH_AUTH_SOCK: '' });
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--ssh default: SSH_AUTH_SOCK is not set/);
  });
});
