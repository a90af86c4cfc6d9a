// Git contexts and ADD of Git repositories, against real servers on the loopback: `git http-backend` behind a node
// HTTP server (which counts what clients asked for), `git daemon`, and Debian's sshd with a throwaway key. The CLI
// runs asynchronously so the in-process HTTP server can answer it. Base images are not needed: FROM scratch.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../builder/helpers/tsb.js';
import { freePort, git, startGitDaemon, startGitHttp, type GitHttpServer } from './helpers/git-server.js';

let work: string;
let root: string;
let repos: string;
let http: GitHttpServer;
let daemon: { url: string; close(): Promise<void> };
/** Commits of repo.git: the first (not a ref tip), the tag v1 (annotated), the branch dev, main. */
const sha = { first: '', v1: '', dev: '', main: '' };

function tsb(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const p = spawn(BIN, ['--root', root, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', rej);
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

function ok(r: { code: number; stderr: string }, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stderr}`);
}

let outN = 0;
async function build(
  url: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ out: string; stderr: string; meta: Record<string, unknown> }> {
  const out = join(work, `out-${++outN}`);
  const metaFile = join(work, `meta-${outN}.json`);
  const r = await tsb(
    ['build', '--progress=plain', '--metadata-file', metaFile, '-o', `type=local,dest=${out}`, ...extra, url],
    env,
  );
  ok(r, `build ${url}`);
  return { out, stderr: r.stderr, meta: JSON.parse(await readFile(metaFile, 'utf8')) as Record<string, unknown> };
}

/** Commits `files` (and `paths` already in place) in the working tree `dir`. */
async function commit(dir: string, files: Record<string, string>, msg: string, paths: string[] = []): Promise<string> {
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), c);
  }
  // by name: `add -A` would drop the submodule's gitlink, whose directory is not checked out here
  git(dir, 'add', '--', ...Object.keys(files), ...paths);
  git(dir, 'commit', '-q', '-m', msg);
  return git(dir, 'rev-parse', 'HEAD');
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-git-'));
  root = join(work, 'root');
  repos = join(work, 'repos');
  await mkdir(repos);
  http = await startGitHttp(repos);
  daemon = await startGitDaemon(repos);
  // the submodule's repository
  const sub = join(work, 'sub');
  await mkdir(sub);
  git(sub, 'init', '-q', '-b', 'main');
  const subSha = await commit(sub, { 'subfile.txt': 'from the submodule\n' }, 'sub');
  git(work, 'clone', '-q', '--bare', sub, join(repos, 'sub.git'));
  // the repository the builds read: a Buildfile at the top and in app/, a .dockerignore, a symlink, a submodule
  const src = join(work, 'src');
  await mkdir(src);
  git(src, 'init', '-q', '-b', 'main');
  sha.first = await commit(
    src,
    {
      Dockerfile: 'FROM scratch\nCOPY . /ctx/\n',
      'a.txt': 'first\n',
      '.dockerignore': 'ignored.txt\n',
      'ignored.txt': 'not in the context\n',
      'app/Dockerfile': 'FROM scratch\nCOPY . /app/\n',
      'app/app.txt': 'app\n',
    },
    'first',
  );
  execFileSync('ln', ['-s', '/etc/hostname', join(src, 'link')]);
  await writeFile(join(src, '.gitmodules'), `[submodule "mod"]\n\tpath = mod\n\turl = ${http.url}/sub.git\n`);
  git(src, 'update-index', '--add', '--cacheinfo', `160000,${subSha},mod`);
  await commit(src, { 'a.txt': 'v1\n' }, 'v1', ['link', '.gitmodules']);
  git(src, 'tag', '-a', 'v1', '-m', 'v1');
  sha.v1 = git(src, 'rev-parse', 'v1^{commit}');
  git(src, 'checkout', '-q', '-b', 'dev');
  sha.dev = await commit(src, { 'a.txt': 'dev\n' }, 'dev');
  git(src, 'checkout', '-q', 'main');
  sha.main = await commit(src, { 'a.txt': 'main\n' }, 'main');
  git(work, 'clone', '-q', '--bare', '--mirror', src, join(repos, 'repo.git'));
}, 60_000);

afterAll(async () => {
  await http?.close();
  await daemon?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const text = (p: string): Promise<string> => readFile(p, 'utf8');
const exists = (p: string): Promise<boolean> =>
  lstat(p).then(
    () => true,
    () => false,
  );

describe('a Git URL as the build context', () => {
  it('builds a branch: its Buildfile, .dockerignore, submodule and symlinks; .git removed; the commit recorded', async () => {
    const url = `${http.url}/repo.git#dev`;
    const { out, stderr, meta } = await build(url);
    expect(await text(join(out, 'ctx/a.txt'))).toBe('dev\n');
    expect(await text(join(out, 'ctx/mod/subfile.txt'))).toBe('from the submodule\n');
    expect(await exists(join(out, 'ctx/ignored.txt'))).toBe(false);
    expect(await exists(join(out, 'ctx/.git'))).toBe(false);
    expect(await exists(join(out, 'ctx/mod/.git'))).toBe(false);
    expect(await readlink(join(out, 'ctx/link'))).toBe('/etc/hostname');
    expect(stderr).toContain(`resolved ${url} to ${sha.dev}`);
    expect(meta).toMatchObject({ 'vcs:source': `${http.url}/repo.git`, 'vcs:revision': sha.dev });
  });

  it('names the remote and the resolved commit as the provenance config source', async () => {
    const url = `${http.url}/repo.git#dev`;
    ok(await tsb(['build', '--progress=quiet', '--provenance=mode=min', '-t', 'git/prov:1', url]), 'build');
    const r = await tsb(['inspect', '--attestations', 'git/prov:1']);
    ok(r, 'inspect --attestations');
    const { attestations } = JSON.parse(r.stdout) as {
      attestations: { statement: { predicate: { buildDefinition: { externalParameters: unknown } } } }[];
    };
    expect(attestations[0]!.statement.predicate.buildDefinition.externalParameters).toMatchObject({
      configSource: { uri: `${http.url}/repo.git`, digest: { gitCommit: sha.dev } },
    });
  });

  it('builds an annotated tag (its commit) and a commit that is no ref tip', async () => {
    const tag = await build(`${http.url}/repo.git#v1`);
    expect(await text(join(tag.out, 'ctx/a.txt'))).toBe('v1\n');
    expect(tag.meta['vcs:revision']).toBe(sha.v1);
    const first = await build(`${http.url}/repo.git#${sha.first}`);
    expect(await text(join(first.out, 'ctx/a.txt'))).toBe('first\n');
    expect(await exists(join(first.out, 'ctx/mod'))).toBe(false);
  });

  it('builds a subdir with its own Buildfile (#ref:subdir), and the default branch without a ref', async () => {
    const { out } = await build(`${http.url}/repo.git#main:app`);
    expect(await text(join(out, 'app/app.txt'))).toBe('app\n');
    expect(await exists(join(out, 'app/Dockerfile'))).toBe(true);
    const head = await build(`${http.url}/repo.git`);
    expect(await text(join(head.out, 'ctx/a.txt'))).toBe('main\n');
  });

  it('fetches nothing the second time the same commit is built', async () => {
    const url = `${http.url}/repo.git#${sha.main}`;
    await build(url);
    const before = http.requests.length;
    const again = await build(url);
    // a full commit sha needs no round trip at all; a branch asks for the refs only
    expect(http.requests.length).toBe(before);
    expect(again.stderr).toContain('nothing fetched');
    const fetches = http.fetches().length;
    await build(`${http.url}/repo.git#main`);
    expect(http.fetches().length).toBe(fetches);
    expect(http.requests.length).toBeGreaterThan(before);
  });

  it('COPY hard-links the checkout into the layer: the image equals a build of the same files from a directory', async () => {
    const src = join(work, 'links-src');
    await mkdir(src);
    git(src, 'init', '-q', '-b', 'main');
    // d/b.txt reaches /dst/ twice in one COPY (by name, and inside "."): BuildKit's layer has two files there, so
    // a second link of one source inode in a step would be a tar hard link and another digest
    await commit(
      src,
      {
        Dockerfile: 'FROM scratch\nCOPY d/b.txt . /dst/\nCOPY --chmod=600 a.txt /m/\n',
        'a.txt': 'a\n',
        'd/b.txt': 'b\n',
      },
      'links',
    );
    git(work, 'clone', '-q', '--bare', src, join(repos, 'links.git'));
    const epoch = { SOURCE_DATE_EPOCH: '1700000000' };
    const fromGit = await tsb(['build', '-q', '-t', 'git/links:1', `${http.url}/links.git#main`], epoch);
    ok(fromGit, 'build from git');
    // the same files as a plain directory: a fresh clone without .git (nothing linked from it)
    const dir = join(work, 'links-dir');
    git(work, 'clone', '-q', src, dir);
    await rm(join(dir, '.git'), { recursive: true, force: true });
    const fromDir = await tsb(['build', '-q', '-t', 'dir/links:1', dir], epoch);
    ok(fromDir, 'build from a directory');
    expect(fromGit.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fromGit.stdout.trim()).toBe(fromDir.stdout.trim());
    // linked, not copied: each checkout file has one more name, in the first COPY's layer; d/b.txt only once (its
    // second path was copied), a.txt not under /m/ (--chmod makes another mode: a copy)
    // the links checkout: the one cache entry holding d/b.txt
    const found = execFileSync('find', [join(root, 'builder', 'git'), '-path', '*/d/b.txt'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(found).toHaveLength(1);
    const checkout = join(found[0]!, '..', '..');
    const names = async (rel: string): Promise<string[]> => {
      const st = await stat(join(checkout, rel));
      return execFileSync('find', [root, '-xdev', '-inum', String(st.ino)], { encoding: 'utf8' })
        .trim()
        .split('\n');
    };
    const b = await names('d/b.txt');
    expect(b).toHaveLength(2);
    expect(b.filter((p) => p.endsWith('/dst/b.txt') || p.endsWith('/dst/d/b.txt'))).toHaveLength(1);
    const a = await names('a.txt');
    expect(a).toHaveLength(2);
    expect(a.filter((p) => p.endsWith('/dst/a.txt'))).toHaveLength(1);
  });

  it('a rebuild of the same commit takes its COPY keys from what it remembered, and walks only to run a COPY', async () => {
    // the links repository of the test before: built once there, so its checkout's COPY hashes are remembered
    const url = `${http.url}/links.git#main`;
    const epoch = { SOURCE_DATE_EPOCH: '1700000000' };
    const first = await tsb(['build', '-q', url], epoch);
    ok(first, 'build');
    const keys = execFileSync('find', [join(root, 'builder'), '-maxdepth', '1', '-name', 'hashmemo-*.keys.json'], {
      encoding: 'utf8',
    });
    expect(keys.trim()).not.toBe('');
    const found = execFileSync('find', [join(root, 'builder', 'git'), '-path', '*/d/b.txt'], { encoding: 'utf8' });
    const file = found.trim();
    // Proof that no walk happened: the checkout is never written, so tsbuild may trust what it hashed; changed
    // behind its back, a rebuild still takes every step from the cache (a walk would have seen the new content).
    const original = await readFile(file);
    await writeFile(file, 'changed behind tsbuild\n');
    const again = await tsb(['build', '--progress=plain', url], epoch);
    ok(again, 'rebuild');
    expect(again.stderr.split('\n').filter((l) => / CACHED$/.test(l))).toHaveLength(3);
    expect(again.stderr).toContain(`image ${first.stdout.trim()}`);
    await writeFile(file, original);
    // a COPY that runs (--no-cache) walks the checkout then, and makes the same layers
    const run = await tsb(['build', '-q', '--no-cache', url], epoch);
    ok(run, 'rebuild with --no-cache');
    expect(run.stdout.trim()).toBe(first.stdout.trim());
  });

  it('keeps .git with --build-arg BUILDKIT_CONTEXT_KEEP_GIT_DIR=1', async () => {
    const { out, stderr } = await build(`${http.url}/repo.git#dev`, ['--build-arg', 'BUILDKIT_CONTEXT_KEEP_GIT_DIR=1']);
    expect((await stat(join(out, 'ctx/.git'))).isDirectory()).toBe(true);
    expect(git(join(out, 'ctx'), 'rev-parse', 'HEAD')).toBe(sha.dev);
    expect(stderr).not.toContain('BUILDKIT_CONTEXT_KEEP_GIT_DIR was not consumed');
  });

  it('reads git:// URLs (git daemon)', async () => {
    const { out, meta } = await build(`${daemon.url}/repo.git#v1`);
    expect(await text(join(out, 'ctx/a.txt'))).toBe('v1\n');
    expect(meta['vcs:revision']).toBe(sha.v1);
  });

  it('fails with exit 1 and a clear message for a wrong ref, a missing subdir or an unreachable host', async () => {
    const wrong = await tsb(['build', `${http.url}/repo.git#no-such-branch`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`Git ref "no-such-branch" not found in ${http.url}/repo.git`);
    const nodir = await tsb(['build', `${http.url}/repo.git#main:nope`]);
    expect(nodir.code).toBe(1);
    expect(nodir.stderr).toContain('directory "nope" not found');
    const port = await freePort();
    const down = await tsb(['build', `http://127.0.0.1:${port}/repo.git#main`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`git ls-remote http://127.0.0.1:${port}/repo.git failed`);
    expect(down.stderr).not.toContain('no Buildfile');
  });
});

describe('--build-context NAME=<git URL>', () => {
  it('is fetched like a Git context and read by COPY --from=NAME', async () => {
    const ctx = join(work, 'named-ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY --from=src a.txt /named.txt\n');
    const url = `${http.url}/repo.git#v1`;
    const { out, stderr } = await build(ctx, ['--build-context', `src=${url}`]);
    expect(await text(join(out, 'named.txt'))).toBe('v1\n');
    expect(stderr).toContain(`resolved ${url} to ${sha.v1}`);
  });
});

describe('credentials', () => {
  it('sends --secret id=GIT_AUTH_TOKEN as basic auth, and the token lands in no file or output', async () => {
    const TOKEN = 'tok-5d1c9e-do-not-leak';
    const guarded = await startGitHttp(repos, { token: TOKEN });
    try {
      const url = `${guarded.url}/repo.git#dev`;
      const denied = await tsb(['build', url]);
      expect(denied.code).toBe(1);
      const args = ['--secret', 'id=GIT_AUTH_TOKEN,env=MY_TOKEN', '--build-arg', 'BUILDKIT_CONTEXT_KEEP_GIT_DIR=1'];
      const r = await build(url, args, { MY_TOKEN: TOKEN });
      expect(await text(join(r.out, 'ctx/a.txt'))).toBe('dev\n');
      expect(guarded.requests.some((q) => q.authorization !== undefined)).toBe(true);
      // nowhere in the store (git cache, records) nor in the output (.git/config of the kept checkout)
      const grep = spawnSync('grep', ['-rl', TOKEN, r.out, root], { encoding: 'utf8' });
      expect(grep.stdout).toBe('');
      expect(r.stderr).not.toContain(TOKEN);
      expect(JSON.stringify(r.meta)).not.toContain(TOKEN);
    } finally {
      await guarded.close();
    }
  });
});

describe('ADD of a Git repository', () => {
  let ctx: string;
  beforeAll(async () => {
    ctx = join(work, 'add-ctx');
    await mkdir(ctx);
  });

  it('adds the checkout without .git, and with it under --keep-git-dir; an unchanged ref is CACHED without a fetch', async () => {
    const url = `${http.url}/repo.git#dev`;
    await writeFile(
      join(ctx, 'Dockerfile'),
      `FROM scratch\nADD ${url} /src\nADD --keep-git-dir ${url} /kept\nADD ${http.url}/repo.git#v1:app /app\n`,
    );
    const { out, stderr } = await build(ctx);
    expect(await text(join(out, 'src/a.txt'))).toBe('dev\n');
    expect(await text(join(out, 'src/mod/subfile.txt'))).toBe('from the submodule\n');
    expect(await exists(join(out, 'src/.git'))).toBe(false);
    expect((await stat(join(out, 'kept/.git'))).isDirectory()).toBe(true);
    expect(git(join(out, 'kept'), 'rev-parse', 'HEAD')).toBe(sha.dev);
    expect(await text(join(out, 'app/app.txt'))).toBe('app\n');
    expect(stderr).toContain(`resolved ${url} to ${sha.dev}`);
    const fetches = http.fetches().length;
    const again = await tsb(['build', '--progress=plain', ctx]);
    ok(again, 'rebuild');
    expect(again.stderr.match(/ADD .* CACHED/g)).toHaveLength(3);
    expect(http.fetches().length).toBe(fetches);
  });

  it('checks --checksum=<commit>: the right one builds, a wrong one fails with BuildKit message', async () => {
    const url = `${http.url}/repo.git#v1`;
    await writeFile(join(ctx, 'Dockerfile'), `FROM scratch\nADD --checksum=${sha.v1} ${url} /src\n`);
    const { out } = await build(ctx);
    expect(await text(join(out, 'src/a.txt'))).toBe('v1\n');
    await writeFile(join(ctx, 'Dockerfile'), `FROM scratch\nADD --checksum=${sha.dev} ${url} /src\n`);
    const bad = await tsb(['build', ctx]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`expected checksum to match ${sha.dev}, got ${sha.v1}`);
  });

  it('refuses --keep-git-dir without a Git source', async () => {
    await writeFile(join(ctx, 'f'), 'x\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nADD --keep-git-dir f /f\n');
    const r = await tsb(['build', ctx]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('keep-git-dir requires a Git source');
  });
});

describe('ssh URLs (sshd on the loopback, a throwaway key)', () => {
  let sshd: ChildProcess | undefined;
  let sshEnv: NodeJS.ProcessEnv;
  beforeAll(async () => {
    const dir = join(work, 'ssh');
    await mkdir(dir, { mode: 0o700 });
    for (const k of ['host', 'user']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user.pub')));
    const port = await freePort();
    const hostPub = (await text(join(dir, 'host.pub'))).split(' ').slice(0, 2).join(' ');
    await writeFile(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
    await writeFile(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        '',
      ].join('\n'),
    );
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => {
        const s = connect(port, '127.0.0.1', () => (s.end(), r(true)));
        s.on('error', () => r(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
    sshEnv = {
      GIT_SSH_COMMAND: `ssh -p ${port} -i ${join(dir, 'user')} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=${join(dir, 'known_hosts')}`,
      TSB_SSH_USER: user,
    };
  });
  afterAll(async () => {
    if (sshd?.pid) {
      sshd.kill();
      await new Promise((r) => sshd!.once('exit', r));
    }
  });

  it('builds user@host:path#ref (scp form) through the system ssh', async () => {
    const url = `${sshEnv.TSB_SSH_USER}@127.0.0.1:${repos}/repo.git#v1`;
    const { out, meta } = await build(url, [], sshEnv);
    expect(await text(join(out, 'ctx/a.txt'))).toBe('v1\n');
    expect(meta['vcs:revision']).toBe(sha.v1);
  });
});

// Last in the file: a prune empties the Git cache the tests above share.
describe('tsbuild prune and the Git cache', () => {
  it('removes every checkout no live process leases; a leased one stays; the next build fetches again', async () => {
    const url = `${http.url}/repo.git#${sha.dev}`;
    await build(url);
    const cache = join(root, 'builder', 'git');
    const before = (await readdir(cache)).filter((n) => /^[0-9a-f]{32}$/.test(n));
    expect(before.length).toBeGreaterThan(0);
    // a lease as a running build leaves it (store/leases.ts): this process is alive, so prune must keep the entry
    const kept = before[0]!;
    const lease = join(root, 'leases', `${process.pid}-gittest.lease`);
    await writeFile(lease, `git:${kept}\n`);
    const first = await tsb(['prune']);
    ok(first, 'prune');
    expect(first.stdout).toContain(`${before.length - 1} Git checkouts`);
    expect(await readdir(cache)).toEqual([kept]);
    await rm(lease);
    const second = await tsb(['prune']);
    ok(second, 'prune');
    expect(second.stdout).toContain('1 Git checkouts');
    expect(await readdir(cache)).toEqual([]);
    // the layers that linked checkout files keep them; a build of the commit fetches it again
    const again = await build(url);
    expect(again.stderr).toContain(`fetched ${sha.dev}`);
    expect(await text(join(again.out, 'ctx/a.txt'))).toBe('dev\n');
  });
});
