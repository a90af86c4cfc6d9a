// The source of a local context that is a git checkout: its remote (credentials stripped) and HEAD commit, read
// from its .git files (git-checkout.ts) or with the system's git (for the provenance's configSource and the
// org.opencontainers.image.source/revision annotations). A context that is not a checkout, or a git that is
// missing, gives none.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isHttpContext } from './context-url.js';
import { readCheckout } from './git-checkout.js';
import type { BuildOptions } from './options.js';

/** A local context that is a git checkout: its remote (credentials stripped) and HEAD commit, from system git. */
export async function contextSource(
  opts: BuildOptions,
  /** A Git URL context's remote and the commit its ref resolved to (builder/sources/git-context.ts). */
  vcs?: { source: string; revision: string },
): Promise<{ uri: string; gitCommit?: string }> {
  if (vcs) return { uri: stripCredentials(vcs.source), gitCommit: vcs.revision };
  if (typeof opts.context !== 'string') return { uri: 'context:stdin' };
  // an http(s) context is its URL (what fetched it; credentials never written)
  if (isHttpContext(opts.context)) return { uri: stripCredentials(opts.context) };
  let p = asked.get(opts);
  if (!p) asked.set(opts, (p = localSource(opts.context)));
  return p;
}

/** One question to git per build: the build asks early (build.ts) and the annotations and provenance take it. */
const asked = new WeakMap<BuildOptions, Promise<{ uri: string; gitCommit?: string }>>();

async function localSource(dir: string): Promise<{ uri: string; gitCommit?: string }> {
  const git = async (...args: string[]): Promise<string | undefined> => {
    try {
      // the context is untrusted: no fsmonitor hook of its .git/config may run (rev-parse and remote read no more)
      const r = await promisify(execFile)('git', ['-c', 'core.fsmonitor=false', '-C', dir, ...args], {
        timeout: 10_000,
      });
      return r.stdout.trim() || undefined;
    } catch {
      return undefined;
    }
  };
  // read from the .git files when the layout is a plain one, else asked of git, both questions side by side
  const read = readCheckout(dir);
  const [commit, remote] = read
    ? [read.commit, read.remote]
    : await Promise.all([git('rev-parse', '--verify', 'HEAD'), git('remote', 'get-url', 'origin')]);
  // the remote is kept only when HEAD is a commit
  if (commit && remote) return { uri: stripCredentials(remote), gitCommit: commit };
  return { uri: 'context:local', ...(commit ? { gitCommit: commit } : {}) };
}

export function stripCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url;
  }
}
