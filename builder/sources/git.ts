// Git sources (a build context from a repository URL, ADD of a repository): resolve a ref to a commit with
// `git ls-remote`, then fetch exactly that commit (depth 1) into a cache directory keyed by the remote and the
// commit, so a second build of the same commit fetches nothing. The system `git` does the work: it is on every CI
// image, speaks every transport (smart HTTP v0/v2, ssh through the system ssh and ~/.ssh, git://) and reads the
// user's credential helpers; a JavaScript implementation would re-do all three, less well.
//
// The repository is untrusted: git runs with argv only (never a shell string), no hooks (an empty template and
// core.hooksPath=/dev/null), no `file`/`ext` transports (a submodule cannot point at a host path or a command),
// no terminal prompt; the checkout is made in a private temporary directory and renamed into place whole.
// Symlinks in the checkout stay symlinks: the context reads them through runtime/root-fd.ts, inside its root.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rename, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { TsbuildError } from '../../oci/index.js';
import { gitCacheLease } from '../../store/index.js';

/** A repository URL split as BuildKit does: `REMOTE#REF:SUBDIR`. */
export interface GitSource {
  /** What git is given (the URL without the fragment). */
  remote: string;
  /** Branch, tag, `refs/…` or a full commit sha; undefined = the remote's HEAD. */
  ref: string | undefined;
  /** A directory inside the repository, without leading `/`; undefined = the top. */
  subdir: string | undefined;
}

/** A Git source that failed: a ref that is not there, a host that does not answer, a checksum that does not match. */
export class GitSourceError extends TsbuildError {
  override name = 'GitSourceError';
  constructor(message: string, hint: string, cause?: unknown) {
    super('GIT_SOURCE', message, { hint, ...(cause !== undefined ? { cause } : {}) });
  }
}

// BuildKit's sshutil pattern with the user part required: `git@github.com:moby/buildkit.git#main`.
const SCP = /^[a-zA-Z0-9_-]+@[a-zA-Z0-9.-]+:.*$/;
const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Whether a `tsbuild build` context argument is a repository, by docker build's rules (urlutil.IsGitURL, as buildx
 * reads it): `git://`, `ssh://`, `git@host:…`, `github.com/…`, and an http(s) URL whose path ends in `.git`.
 */
export function isGitContext(arg: string): boolean {
  if (/^(git|ssh):\/\//i.test(arg) || arg.startsWith('github.com/')) return true;
  if (/^https?:\/\//i.test(arg)) return /\.git(?:#.*)?$/.test(arg);
  return SCP.test(arg);
}

/** Splits `URL#ref:subdir`; `github.com/org/repo` becomes an https URL, as docker build does. */
export function parseGitSource(arg: string): GitSource {
  const hash = arg.indexOf('#');
  let remote = hash < 0 ? arg : arg.slice(0, hash);
  const fragment = hash < 0 ? '' : arg.slice(hash + 1);
  if (remote.startsWith('github.com/')) remote = `https://${remote}`;
  const colon = fragment.indexOf(':');
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  let subdir = colon < 0 ? '' : fragment.slice(colon + 1);
  subdir = posix.normalize(`/${subdir}`).slice(1).replace(/\/+$/, '');
  if (ref.startsWith('-'))
    throw new GitSourceError(`invalid Git ref "${ref}" in ${redact(arg)}`, 'a ref names a branch, tag or commit');
  return { remote, ref: ref || undefined, subdir: subdir || undefined };
}

/** The URL with any password (or token) in it replaced, for messages, progress and records. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@#]*)@/i, (_m, scheme: string, userinfo: string) => {
    const user = userinfo.split(':')[0]!;
    return userinfo.includes(':') ? `${scheme}${user}:xxxxx@` : `${scheme}${user}@`;
  });
}

/** How to say a source in progress lines: `URL#ref:subdir`, credentials redacted. */
export function describe(src: GitSource): string {
  const frag = (src.ref ?? '') + (src.subdir ? `:${src.subdir}` : '');
  return `${redact(src.remote)}${frag ? `#${frag}` : ''}`;
}

/** Credentials BuildKit takes as secrets: GIT_AUTH_TOKEN (basic auth as x-access-token) or GIT_AUTH_HEADER. */
export interface GitAuth {
  token?: string;
  header?: string;
}

/** GIT_AUTH_TOKEN / GIT_AUTH_HEADER from the build's secrets, the `.<host>` forms first (as BuildKit). */
export function gitAuthFrom(secrets: ReadonlyMap<string, Buffer>, remote: string): GitAuth {
  let host = '';
  try {
    host = new URL(remote).host;
  } catch {
    /* an scp-style or ssh remote: no HTTP header applies */
  }
  const pick = (id: string): string | undefined =>
    (secrets.get(`${id}.${host}`) ?? secrets.get(id))?.toString('utf8').trim() || undefined;
  const token = pick('GIT_AUTH_TOKEN');
  const header = pick('GIT_AUTH_HEADER');
  return { ...(token ? { token } : {}), ...(header ? { header } : {}) };
}

export interface GitOptions {
  /** The cache directory (store-managed): one checkout per remote, commit and keepGitDir. */
  cacheRoot: string;
  /**
   * Where the checkout is made before it is renamed into the cache (the build's own temporary directory on the
   * store's filesystem, which the store sweeps after a crash); the cache root by default.
   */
  tmpDir?: string;
  keepGitDir: boolean;
  auth?: GitAuth;
  signal?: AbortSignal;
  /** Marks a cache entry in use until the build's store closes (Store.use): a prune keeps it meanwhile. */
  use?: (names: string[]) => Promise<void>;
}

export interface ResolvedRef {
  commit: string;
  /** The full ref name it came from (`refs/heads/main`), or undefined for a commit sha given as is. */
  refName: string | undefined;
}

/**
 * The commit `src.ref` names at the remote, by `git ls-remote` (one round trip, no objects). A full commit sha is
 * taken as is, without asking the remote. Order as git's own: `refs/…` exactly, then a tag, then a branch.
 */
export async function resolveRef(src: GitSource, opts: GitOptions): Promise<ResolvedRef> {
  if (src.ref !== undefined && SHA.test(src.ref)) return { commit: src.ref, refName: undefined };
  const patterns = src.ref === undefined ? ['HEAD'] : [src.ref, `${src.ref}^{}`];
  const out = await runGit(['ls-remote', '--', src.remote, ...patterns], undefined, opts, src);
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha && name) refs.set(name, sha);
  }
  const r = src.ref;
  const candidates =
    r === undefined ? ['HEAD'] : r.startsWith('refs/') ? [r] : [`refs/tags/${r}`, `refs/heads/${r}`, r];
  for (const name of candidates) {
    const sha = refs.get(`${name}^{}`) ?? refs.get(name);
    if (sha) return { commit: sha, refName: name === 'HEAD' ? undefined : name };
  }
  throw new GitSourceError(
    `Git ref "${r ?? 'HEAD'}" not found in ${redact(src.remote)}`,
    'name a branch, a tag or a full commit sha the repository has (URL#ref[:subdir])',
  );
}

export interface FetchedGit {
  /** The checkout's directory with the subdir applied: read-only for the caller (other builds share it). */
  dir: string;
  commit: string;
  /** False when the commit came from the cache, without any fetch. */
  fetched: boolean;
}

/** The checkout of `src` at `resolved.commit` (fetched once per remote, commit and keepGitDir), with the subdir. */
export async function fetchGit(src: GitSource, resolved: ResolvedRef, opts: GitOptions): Promise<FetchedGit> {
  const { commit } = resolved;
  const key = createHash('sha256')
    .update(JSON.stringify([redact(src.remote), commit, opts.keepGitDir]))
    .digest('hex')
    .slice(0, 32);
  // leased before it is looked for: a prune that began before waits for this to see it, one after keeps it
  await opts.use?.([gitCacheLease(key)]);
  await mkdir(opts.cacheRoot, { recursive: true, mode: 0o700 });
  const final = join(opts.cacheRoot, key);
  let fetched = false;
  if (!(await stat(final).catch(() => undefined))?.isDirectory()) {
    const tmp = await mkdtemp(join(opts.tmpDir ?? opts.cacheRoot, 'git-'));
    try {
      await checkout(src, resolved, tmp, opts);
      await rename(tmp, final).catch(async (e: NodeJS.ErrnoException) => {
        // another build put the same commit in place first: theirs is as good
        if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
        await rm(tmp, { recursive: true, force: true });
      });
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    fetched = true;
  }
  return { dir: await subdirOf(final, src), commit, fetched };
}

async function checkout(src: GitSource, resolved: ResolvedRef, dir: string, opts: GitOptions): Promise<void> {
  const { commit, refName } = resolved;
  await runGit(['init', '-q', '--template=', dir], undefined, opts, src);
  // the remote as .git/config records it (kept with keepGitDir): without a password or token
  await runGit(
    ['remote', 'add', 'origin', src.remote.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@#:]*):[^/@#]*@/i, '$1@')],
    dir,
    opts,
    src,
  );
  // A ref is fetched by name (any server serves a ref tip); a commit sha by itself (protocol v2 servers and
  // GitHub allow it), and when the server refuses that, everything, then the commit is looked for.
  const local = refName?.startsWith('refs/heads/')
    ? `refs/remotes/origin/${refName.slice('refs/heads/'.length)}`
    : refName;
  const fetch = (what: string[], depth: boolean): Promise<string> =>
    runGit(['fetch', '-q', ...(depth ? ['--depth=1'] : []), '--no-tags', src.remote, ...what], dir, opts, src);
  let ok = false;
  if (refName && local) ok = await fetch([`+${refName}:${local}`], true).then(() => hasCommit(dir, commit, opts));
  if (!ok)
    ok = await fetch([commit], true).then(
      () => true,
      () => false,
    );
  if (!ok) {
    await fetch(['+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*'], false);
    if (!(await hasCommit(dir, commit, opts)))
      throw new GitSourceError(
        `commit ${commit} not found in ${redact(src.remote)}`,
        'the ref moved while it was fetched, or the commit is not reachable from any branch or tag: try again',
      );
  }
  await runGit(['checkout', '-q', '--detach', commit], dir, opts, src);
  const hasModules = (await stat(join(dir, '.gitmodules')).catch(() => undefined))?.isFile() ?? false;
  if (hasModules) {
    const sub = ['submodule', 'update', '--init', '--recursive'];
    await runGit([...sub, '--depth=1'], dir, opts, src).catch(() => runGit(sub, dir, opts, src));
  }
  if (!opts.keepGitDir) {
    // BuildKit removes .git unless asked to keep it; each submodule's `.git` file points into it, so they go too
    const list = hasModules
      ? await runGit(['submodule', 'foreach', '--quiet', '--recursive', 'echo "$displaypath"'], dir, opts, src)
      : '';
    for (const p of list.split('\n').filter(Boolean)) await rm(join(dir, p, '.git'), { recursive: true, force: true });
    await rm(join(dir, '.git'), { recursive: true, force: true });
  }
}

async function hasCommit(dir: string, commit: string, opts: GitOptions): Promise<boolean> {
  return runGit(['cat-file', '-e', `${commit}^{commit}`], dir, opts, undefined).then(
    () => true,
    () => false,
  );
}

/** `src.subdir` inside the checkout, resolved (a symlink in it is followed only inside the checkout). */
async function subdirOf(top: string, src: GitSource): Promise<string> {
  if (src.subdir === undefined) return top;
  const real = await realpath(join(top, src.subdir)).catch(() => undefined);
  const st = real !== undefined ? await stat(real) : undefined;
  if (real === undefined || !(real === top || real.startsWith(`${top}/`)) || !st?.isDirectory())
    throw new GitSourceError(
      `directory "${src.subdir}" not found in ${redact(src.remote)}`,
      'the part after ":" in URL#ref:subdir names a directory of the repository at that ref',
    );
  return real;
}

/**
 * The environment git runs in: no prompt, no hooks, no file/ext transports, and the auth header passed as config
 * through the environment (GIT_CONFIG_COUNT), never argv: argv is visible to every user in /proc.
 */
export function gitEnv(remote: string, opts: Pick<GitOptions, 'auth'>): NodeJS.ProcessEnv {
  const config: [string, string][] = [
    ['core.hooksPath', '/dev/null'],
    ['protocol.file.allow', 'never'],
    ['protocol.ext.allow', 'never'],
    ['advice.detachedHead', 'false'],
    ['init.defaultBranch', 'main'],
  ];
  const header = opts.auth?.header
    ? `Authorization: ${opts.auth.header}`
    : opts.auth?.token
      ? `Authorization: basic ${Buffer.from(`x-access-token:${opts.auth.token}`).toString('base64')}`
      : undefined;
  if (header && /^https?:\/\//i.test(remote)) {
    const u = new URL(remote);
    config.push([`http.${u.protocol}//${u.host}/.extraheader`, header]);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
  const base = Number(process.env.GIT_CONFIG_COUNT ?? 0) || 0;
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${base + i}`] = k;
    env[`GIT_CONFIG_VALUE_${base + i}`] = v;
  });
  env.GIT_CONFIG_COUNT = String(base + config.length);
  return env;
}

/** Runs git (argv only) and returns its stdout; a failure names the remote (redacted) and git's own message. */
function runGit(
  args: string[],
  cwd: string | undefined,
  opts: GitOptions,
  src: GitSource | undefined,
): Promise<string> {
  return new Promise((res, rej) => {
    let p;
    try {
      p = spawn('git', args, {
        ...(cwd !== undefined ? { cwd } : {}),
        env: gitEnv(src?.remote ?? '', opts),
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (e) {
      rej(e as Error);
      return;
    }
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e: NodeJS.ErrnoException) =>
      rej(
        e.code === 'ENOENT'
          ? new GitSourceError('git is not installed', 'Git sources need the system git (apt-get install git)', e)
          : e,
      ),
    );
    p.on('close', (code) => {
      if (code === 0) return res(out);
      const why = err.trim().split('\n').slice(-3).join('; ') || `git ${args[0]} exited ${code}`;
      const where = src ? redact(src.remote) : 'the repository';
      rej(
        new GitSourceError(
          `git ${args[0]} ${where} failed: ${redact(why)}`,
          args[0] === 'ls-remote'
            ? 'check the URL and that the host answers; credentials come from git (credential helpers, ~/.ssh) or --secret id=GIT_AUTH_TOKEN'
            : 'check the ref and that the repository is reachable',
        ),
      );
    });
  });
}
